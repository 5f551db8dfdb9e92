#!/bin/sh
# Run by the postgres image at its first start (/docker-entrypoint-initdb.d, as the superuser,
# after it created $POSTGRES_DB): the registry's users of deploy/postgres/roles.sql, with the
# passwords of the secret files docker-compose.yml gives the postgres service.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$POSTGRES_DB" -v secrets=/run/secrets \
    -v owner=jagajalan_registry -v api=jagajalan_registry_api \
    -v alerts=jagajalan_registry_alerts -v analytics=jagajalan_registry_analytics \
    -f /jagajalan/roles.sql
