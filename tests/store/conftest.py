"""The store of each backend for the contract tests: SQLite (embedded) and a real InfluxDB."""

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
