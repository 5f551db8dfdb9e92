"""The outbox's tests run on both databases, like the registry's (a migrated registry)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from registry import db
from tests.registry.conftest import Database, database, postgres  # noqa: F401  (fixtures)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:  # noqa: F811
    db.upgrade(database.engine)
    yield database.engine
