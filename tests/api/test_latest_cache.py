"""The latest values kept in the API's memory (api/latest_cache.py), on an SQLite store and a
real InfluxDB: the cache answers what the store answers once it has refreshed, answers from
memory in between, refreshes in the background while the app runs, and keeps serving its last
answer (saying so in /metrics and the log) when a refresh fails."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.access import open_reads
from api.app import create_app
from api.latest_cache import AGE_HEADER, SWITCH_INTERVAL, LatestCache
from api.settings import ApiSettings
from api.sites import INDICATORS
from registry import db
from registry.read import RegistryReader
from store import Store, StoreUnavailable
from store.sqlite import SQLiteStore
from telemetry.mapping import DEVICE_STATUS_MEASUREMENT, STATUS_MEASUREMENT, status_point
from testkit.ingest import wait_for
from testkit.points import GW1, GW2, GW3, MIN, T0, air, batch_point
from testkit.sites import import_registry
from tests.api.test_metrics import scrape, value
from tests.api.test_sites import seed, water

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient


@pytest.fixture
def registry_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml")
    yield engine
    engine.dispose()


def answers(reader: object) -> dict[str, object]:
    """Everything the cache keeps, asked of *reader* (the cache or the store itself)."""
    return {
        "latest": reader.latest(),  # type: ignore[attr-defined]
        "latest_gw1": reader.latest(gateway=GW1),  # type: ignore[attr-defined]
        "latest_air": reader.latest(measurement="air_quality"),  # type: ignore[attr-defined]
        "latest_gw1_water": reader.latest(GW1, "water_level"),  # type: ignore[attr-defined]
        "gateways": reader.gateways(),  # type: ignore[attr-defined]
        "indicators": reader.newest_of(INDICATORS),  # type: ignore[attr-defined]
        "status": reader.newest(STATUS_MEASUREMENT),  # type: ignore[attr-defined]
        "status_gw2": reader.newest(STATUS_MEASUREMENT, GW2),  # type: ignore[attr-defined]
        "devices": reader.newest(DEVICE_STATUS_MEASUREMENT),  # type: ignore[attr-defined]
    }


def newer_points() -> list:
    return [
        water(GW1, T0 + 10 * MIN, 31.0),
        air(GW3, T0 + 10 * MIN, pm25=12.0),  # a gateway the cache has not seen
        batch_point(GW1, 1843, T0 + 10 * MIN),
        batch_point(GW3, 1, T0 + 10 * MIN),
        status_point(GW2, "online", T0 + 10 * MIN),
    ]


def test_cache_answers_what_the_store_answers_after_each_refresh(store: Store) -> None:
    seed(store)
    cache = LatestCache(store, refresh=3600)
    assert cache.age_seconds() is None
    assert answers(cache) == answers(store)  # not filled yet: read through
    assert cache.refresh_now()
    assert cache.age_seconds() is not None
    before = answers(store)
    assert answers(cache) == before

    store.write(newer_points())
    after = answers(store)
    assert after != before
    assert answers(cache) == before  # from memory: the store is not asked
    assert cache.refresh_now()
    assert answers(cache) == after
    assert any(v.gateway == GW3 for v in cache.latest())
    assert isinstance(cache, type(store))  # the backend's name sees through the cache


def test_app_refreshes_in_the_background(store: Store, registry_engine: Engine) -> None:
    seed(store)
    registry = RegistryReader(registry_engine, cache_seconds=0)
    direct = TestClient(create_app(store, access=open_reads(), registry=registry))
    app = create_app(store, access=open_reads(), registry=registry, latest_refresh=0.2)
    paths = ["/readings/latest", "/readings/latest?gateway=srl-pasar-01", "/gateways"]
    paths += ["/sites/latest", "/readings/latest?measurement=air_quality"]

    def same(path: str) -> bool:
        ours, theirs = client.get(path), direct.get(path)
        assert ours.status_code == theirs.status_code == 200, ours.text
        if path == "/sites/latest":  # its time is when it was built
            return ours.json()["sites"] == theirs.json()["sites"]
        return ours.json() == theirs.json()

    before = sys.getswitchinterval()
    with TestClient(app) as client:  # runs the lifespan: the refresher
        wait_for(lambda: app.state.latest.age_seconds() is not None, 10, "the first fill")
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL)  # requests get the GIL
        for path in paths:
            assert same(path), path
            age = float(client.get(path).headers[AGE_HEADER])
            assert 0 <= age < 10
        first = client.get("/readings/latest").json()
        store.write(newer_points())
        for path in paths:
            wait_for(lambda p=path: same(p), 10, f"{path} after new points")
        assert client.get("/readings/latest").json() != first
        samples = scrape(client)
        assert 0 <= value(samples, "jagajalan_api_latest_age_seconds") < 10
        assert value(samples, "jagajalan_api_latest_refresh_failures_total") == 0
    assert app.state.latest._thread is None  # stopped with the app
    assert sys.getswitchinterval() == before  # and the interpreter's setting given back
    assert AGE_HEADER not in direct.get("/readings/latest").headers  # no cache, no age


class BreakableStore(SQLiteStore):
    """A real SQLite store whose reads of the latest values fail while ``broken``."""

    broken = False

    def latest(self, gateway: str | None = None, measurement: str | None = None) -> list:
        if self.broken:
            raise StoreUnavailable("store down for the test")
        return super().latest(gateway, measurement)


def test_a_failed_refresh_keeps_the_last_answer_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="api.latest")
    store = BreakableStore(tmp_path / "store.sqlite")
    store.ensure()
    seed(store)
    app = create_app(store, access=open_reads(), latest_refresh=0.1)
    with TestClient(app) as client:
        wait_for(lambda: app.state.latest.age_seconds() is not None, 10, "the first fill")
        good = client.get("/readings/latest").json()
        store.broken = True
        store.write(newer_points())
        failures = "jagajalan_api_latest_refresh_failures_total"
        wait_for(lambda: value(scrape(client), failures) >= 2, 10, "failed refreshes")
        served = client.get("/readings/latest")
        assert served.status_code == 200 and served.json() == good
        stale = float(served.headers[AGE_HEADER])
        wait_for(lambda: float(client.get("/gateways").headers[AGE_HEADER]) > stale, 10, "age")
        warned = [r for r in caplog.records if "not refreshed" in r.getMessage()]
        assert len(warned) == 1 and warned[0].levelno == logging.WARNING  # once per outage
        assert "store down for the test" in warned[0].getMessage()
        store.broken = False
        wait_for(lambda: client.get("/readings/latest").json() != good, 10, "recovery")
        assert any("refreshed again" in r.getMessage() for r in caplog.records)
    store.close()


def test_the_default_refresh_depends_on_the_backend() -> None:
    influx = ApiSettings(influx_url="http://127.0.0.1:8086")
    assert influx.latest_refresh_seconds == 5.0
    assert ApiSettings().latest_refresh_seconds == 0.0  # SQLite: every request reads
    assert ApiSettings(latest_refresh=2).latest_refresh_seconds == 2.0


def test_the_refresher_prepares_the_answers_requests_asked_for(store: Store) -> None:
    seed(store)
    cache = LatestCache(store, refresh=3600)
    assert cache.refresh_now()
    built: list[int] = []

    def build() -> bytes:
        built.append(len(cache.latest()))
        return str(built[-1]).encode()

    assert cache.memo("all", build) == cache.memo("all", build)  # built once per snapshot
    assert len(built) == 1
    store.write(newer_points())
    assert cache.refresh_now()
    assert len(built) == 2  # by the refresher, from the new snapshot, before serving it
    assert cache.memo("all", build) == str(len(store.latest())).encode()
    assert len(built) == 2
    assert cache.refresh_now()  # asked again since: prepared again
    assert len(built) == 3
    assert cache.refresh_now()  # nobody asked during the last interval: dropped
    assert len(built) == 3
    assert cache.memo("all", build) == str(len(store.latest())).encode()
    assert len(built) == 4
