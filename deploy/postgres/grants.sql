-- What each service may do with the registry's tables, least privilege; run by the owner
-- (jagajalan_registry) after every `jagajalan registry upgrade`, as it is idempotent
-- (docker-compose.yml: the one-shot `registry-grants`; without Docker: docs/operations.md).
-- psql variables: api, alerts, analytics (the users of deploy/postgres/roles.sql).
-- A new table gets no grant until it is named here (tests/deploy/test_registry_roles.py
-- fails for a table of registry/models.py this file does not name).
\set ON_ERROR_STOP on
BEGIN;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"api", :"alerts", :"analytics";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"api", :"alerts", :"analytics";

-- Every service checks the schema version; only the owner's migrations change it.
GRANT SELECT ON alembic_version TO :"api", :"alerts", :"analytics";

-- The API: admins change the registry and keys, operators acknowledge and silence alerts.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON sites, gateways, sensors, contacts, contact_channels, api_keys,
       alerts, silences, leases, alert_outbox, alert_attempts
    TO :"api";

-- The API lists the gateways behind their group's desired release (GET /releases); only
-- `jagajalan firmware rollout`, run by an admin as the owner, writes the desired versions.
GRANT SELECT ON desired_versions, desired_version_gateways TO :"api";
-- ... and the sensor nodes whose firmware differs from their profile's desired firmware; only
-- `jagajalan registry firmware set`, run by an admin as the owner, writes it.
GRANT SELECT ON desired_firmware TO :"api";

-- The alerts service: reads where and to whom; writes its alerts, silences, the lease of the
-- acting instance and the outbox with its attempts. Never the keys.
GRANT SELECT ON sites, gateways, sensors, contacts, contact_channels TO :"alerts";
GRANT SELECT, INSERT, UPDATE, DELETE
    ON alerts, silences, leases, alert_outbox, alert_attempts
    TO :"alerts";

-- The indicators job and `dashboards sites`: the sites and their gateways, read only.
GRANT SELECT ON sites, gateways TO :"analytics";

GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"api", :"alerts";
COMMIT;
