"""The registry's tests run on both databases: an SQLite file and PostgreSQL (a throw-away
database on the machine's server for the session, emptied before each test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from registry.db import engine_for
from registry.models import Base
from testkit.postgres import Postgres, throwaway


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with throwaway() as database:
        yield database


@dataclass
class Database:
    kind: str
    engine: Engine
    options: list[str]  # the `jagajalan registry` options that reach it


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty registry database (not migrated yet), of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "registry.sqlite3"
        engine = engine_for(f"sqlite+pysqlite:///{path}")
        yield Database("sqlite", engine, ["--registry-db", str(path)])
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        engine = engine_for(pg.sqlalchemy_url)
        with engine.begin() as connection:  # what the previous test left
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        options = ["--registry-url", pg.url, "--registry-username", pg.user]
        yield Database("postgresql", engine, options)
    engine.dispose()
