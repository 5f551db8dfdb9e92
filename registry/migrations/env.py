"""Alembic's environment for the registry: run by :func:`registry.db.upgrade`, which passes
the connection (``config.attributes["connection"]``); SQLite gets batch mode (ALTER TABLE
by copying), which its limited ALTER needs."""

from __future__ import annotations

from alembic import context

from registry.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run the registry's migrations with: jagajalan registry upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
