"""store.metered: a store call through the meter gives the same result or raises the same
exception, and reports its method, time and failure kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import StoreUnavailable
from store.metered import MeteredStore, unwrap
from store.sqlite import SQLiteStore
from testkit.points import GW1, T0, air


def test_calls_are_reported_and_unchanged(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    store.ensure()
    seen: list[tuple[str, str | None]] = []
    metered = MeteredStore(store, lambda method, s, kind: seen.append((method, kind)))
    try:
        metered.write([air(GW1, T0, pm25=10.0)])
        assert metered.count("air_quality") == store.count("air_quality") == 1
        assert isinstance(metered, SQLiteStore) and unwrap(metered) is store
        assert unwrap(store) is store
    finally:
        store.close()
    assert seen == [("write", None), ("count", None)]


class _Down(SQLiteStore):
    def gateways(self) -> list:
        raise StoreUnavailable("connection refused")


def test_a_failure_is_reported_with_its_kind_and_raised(tmp_path: Path) -> None:
    seen: list[tuple[str, float, str | None]] = []
    metered = MeteredStore(_Down(tmp_path / "s.sqlite"), lambda *a: seen.append(a))
    with pytest.raises(StoreUnavailable, match="connection refused"):
        metered.gateways()
    assert [(m, kind) for m, _, kind in seen] == [("gateways", "transient")]
    assert seen[0][1] >= 0
