"""The registry: where each site, gateway, sensor and contact is, in a relational database.

SQLAlchemy 2 models (:mod:`registry.models`), Alembic migrations (``registry/migrations``,
found from the package, so they run from an installed copy too), SQLite by default and
PostgreSQL in production (:mod:`registry.db`), the whole registry as one TOML file with
errors that point (:mod:`registry.document`) or as CSV, one file per table
(:mod:`registry.csvfiles`), idempotent import and export (:mod:`registry.sync`) and the
command ``jagajalan registry`` (:mod:`registry.cli`).

A component at the level of the store and analytics: the API (and later alerts) may read it;
ingest never needs it (an import contract in pyproject.toml).
"""
