"""The store of each backend, as a pytest fixture: SQLite (embedded) and a real InfluxDB (the
session's ``influx`` server, a fresh ``influx_db`` per test). Test packages that run against
both take it into their conftest: ``from testkit.stores import store``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Store
from store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", pytest.param("influxdb", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        backend: Store = SQLiteStore(tmp_path / "store.sqlite")
    else:
        from store.influx import InfluxStore

        influx = request.getfixturevalue("influx")
        backend = InfluxStore(influx.url, request.getfixturevalue("influx_db"))
    backend.ensure()
    try:
        yield backend
    finally:
        backend.close()
