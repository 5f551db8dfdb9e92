"""The migrations make exactly the models' schema, on SQLite and PostgreSQL, and are found
from the package (an installed copy has them)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch

from sqlalchemy import inspect

from registry import db
from registry.models import Base
from testkit import REPO
from tests.registry.conftest import Database


def test_the_migrations_make_the_models_schema(database: Database) -> None:
    assert db.current(database.engine) is None
    assert db.schema_diff(database.engine)  # an empty database differs: the check can fail
    before, after = db.upgrade(database.engine)
    assert (before, after) == (None, db.head())
    assert db.schema_diff(database.engine) == []
    tables = set(inspect(database.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrading_twice_changes_nothing_and_downgrade_empties(database: Database) -> None:
    db.upgrade(database.engine)
    assert db.upgrade(database.engine) == (db.head(), db.head())
    db.downgrade(database.engine, "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(database.engine)
    assert db.schema_diff(database.engine) == []


def test_the_migrations_ship_with_the_package() -> None:
    """script_location is the package's folder, and every file in it is package data."""
    assert db.MIGRATIONS == REPO / "registry" / "migrations"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["registry"]
    files = [
        p.relative_to(REPO / "registry").as_posix()
        for p in db.MIGRATIONS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "migrations/env.py" in files and "migrations/versions/0001_initial.py" in files
    assert [f for f in files if not any(fnmatch(f, g) for g in globs)] == []
