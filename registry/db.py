"""The registry's database: engines, migrations (Alembic) and the check that the schema is
the models' one.

The migrations live in ``registry/migrations`` and are found from this package
(:data:`MIGRATIONS`), not from an ``alembic.ini`` in the working folder, so
``jagajalan registry upgrade`` works from an installed copy. SQLite connections enforce
foreign keys (SQLite leaves them off by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event, make_url

from registry.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")


def engine_for(url: URL | str) -> Engine:
    """An engine for *url*; an SQLite file's folder is created, and foreign keys are on."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest migration's revision."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Runs the migrations up to *revision*: (the revision before, the one after)."""
    before = current(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current(engine) or ""


def downgrade(engine: Engine, revision: str) -> None:
    """Runs the migrations back down to *revision* (``base``: no tables)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def schema_diff(engine: Engine) -> list[Any]:
    """What differs between the database's schema and the models' (Alembic's
    ``compare_metadata``, types compared too); empty when they are the same."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, Base.metadata) if not _alembic_own(d)]


def _alembic_own(diff: Any) -> bool:
    """Alembic's own bookkeeping table is no difference."""
    return diff[0] == "remove_table" and diff[1].name == "alembic_version"
