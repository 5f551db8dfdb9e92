-- The registry's PostgreSQL users, least privilege (run once, by a superuser, connected to the
-- registry's database; docker-compose.yml: deploy/postgres/init-roles.sh at the first start;
-- without Docker: docs/operations.md). psql variables:
--   db         the registry's database (jagajalan)
--   secrets    folder with registry_{owner,api,alerts,analytics}_password (one password each)
--   owner      owns the schema and the tables: only `jagajalan registry init|upgrade` use it
--   api, alerts, analytics
--              one user per service; what each may do: deploy/postgres/grants.sql
-- Passwords are read from the files by psql itself (never on a command line).
\set ON_ERROR_STOP on
\set owner_password `cat :'secrets'/registry_owner_password`
\set api_password `cat :'secrets'/registry_api_password`
\set alerts_password `cat :'secrets'/registry_alerts_password`
\set analytics_password `cat :'secrets'/registry_analytics_password`

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"api" LOGIN PASSWORD :'api_password';
CREATE ROLE :"alerts" LOGIN PASSWORD :'alerts_password';
CREATE ROLE :"analytics" LOGIN PASSWORD :'analytics_password';

ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"api", :"alerts", :"analytics";

-- Only the owner creates anything; the services use what it made.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"api", :"alerts", :"analytics";

-- Which rows each service may read and write: deploy/postgres/grants.sql, run by the owner
-- after every migration (the tables exist only then). Until then the services see no table.
