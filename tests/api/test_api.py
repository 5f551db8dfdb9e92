"""The HTTP API against real stores (SQLite file, InfluxDB process), a real Mosquitto for
/health, and once as a real uvicorn server started through ``jagajalan api run``."""

from __future__ import annotations

import functools
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.access import open_reads
from api.app import create_app
from api.broker import mqtt_reachable
from store import GatewaySeen, LatestValue, Store, StoreRejected
from store.sqlite import SQLiteStore
from telemetry.mapping import Point, status_point
from testkit.points import GW1, GW2, MIN, T0, air, batch_point, traffic
from testkit.services import Influx, Mosquitto, free_port, mosquitto

with warnings.catch_warnings():
    # Starlette's TestClient asks for "httpx2"; httpx 0.28.1 is the pinned client.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def fill(store: Store) -> None:
    store.write(
        [
            air(GW1, T0, pm25=41.3, pm10=63.0),
            air(GW1, T0 + MIN, pm25=40.0),  # pm10 missing: sparse
            traffic(GW1, "1", T0, count=37, speed_mean=42.6),
            traffic(GW1, "1", T0 + MIN, count=0),
            air(GW2, T0 + 2 * MIN, pm25=12.5, pm10=20.0),
            Point("air_quality", {"gateway": GW2, "sensor": "env1"}, {"novel": 1.5}, T0),
            batch_point(GW1, 1841, T0 + 5_000),
            batch_point(GW1, 1842, T0 + MIN + 5_123),
            status_point(GW1, "online", T0),
            status_point(GW2, "offline", T0 + 3 * MIN),
        ]
    )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "api.sqlite")
    store.ensure()
    fill(store)
    yield store
    store.close()


@pytest.fixture
def client(sqlite_store: SQLiteStore) -> TestClient:
    return TestClient(create_app(sqlite_store, access=open_reads()))


def closed_store(tmp_path: Path) -> SQLiteStore:
    """A store that cannot open its file: its directory is a regular file."""
    (tmp_path / "not-a-dir").write_text("")
    return SQLiteStore(tmp_path / "not-a-dir" / "store.sqlite")


# -- /readings/latest ----------------------------------------------------------------------


def test_latest_readings(client: TestClient) -> None:
    r = client.get("/readings/latest")
    assert r.status_code == 200
    rows = {
        (x["gateway"], x["measurement"], x["tags"].get("lane"), x["field"]): x for x in r.json()
    }
    assert len(rows) == 7
    assert rows[GW1, "traffic", "1", "count"] == {
        "gateway": GW1,
        "sensor": "cnt1",
        "measurement": "traffic",
        "tags": {"lane": "1"},
        "field": "count",
        "value": 0,
        "unit": "vehicles",
        "time": "2025-11-30T08:01:00.000Z",
        "time_wib": "2025-11-30T15:01:00.000+07:00",
    }
    speed = rows[GW1, "traffic", "1", "speed_mean"]
    assert (speed["value"], speed["unit"], speed["time"]) == (
        42.6,
        "km/h",
        "2025-11-30T08:00:00.000Z",
    )
    pm10 = rows[GW1, "air_quality", None, "pm10"]  # each field keeps its own time
    assert (pm10["value"], pm10["time"], pm10["tags"]) == (63.0, "2025-11-30T08:00:00.000Z", {})
    assert rows[GW2, "air_quality", None, "novel"]["unit"] is None
    assert isinstance(rows[GW1, "traffic", "1", "count"]["value"], int)
    assert isinstance(rows[GW2, "air_quality", None, "pm10"]["value"], float)
    assert not {m for _, m, _, _ in rows} & {"gateway_batches", "gateway_status"}


def test_latest_readings_filters(client: TestClient) -> None:
    gw2 = client.get("/readings/latest", params={"gateway": GW2}).json()
    assert {x["gateway"] for x in gw2} == {GW2} and len(gw2) == 3
    tr = client.get("/readings/latest", params={"measurement": "traffic"}).json()
    assert {x["field"] for x in tr} == {"count", "speed_mean"}
    both = client.get("/readings/latest", params={"gateway": GW2, "measurement": "traffic"})
    assert both.status_code == 200 and both.json() == []
    assert client.get("/readings/latest", params={"gateway": "nowhere-99"}).json() == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"gateway": "SRL-PASAR-01"}, "gateway"),
        ({"gateway": "srl pasar"}, "gateway"),
        ({"gateway": "a" * 64}, "gateway"),
        ({"gateway": ""}, "gateway"),
        ({"measurement": "Air-Quality"}, "measurement"),
        ({"measurement": "1traffic"}, "measurement"),
    ],
)
def test_latest_readings_bad_params_are_422(
    client: TestClient, params: dict[str, str], name: str
) -> None:
    r = client.get("/readings/latest", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert f"query parameter '{name}'" in body["message"]
    assert body["detail"][0]["loc"] == ["query", name]


# -- /gateways -----------------------------------------------------------------------------


#: What a gateway shows when its statuses carried no details (tests/api/test_gateway_status.py
#: has statuses that do).
NO_DETAILS = {
    "spool_depth": None,
    "spool_oldest_age": None,
    "dropped": None,
    "spool_errors": None,
    "clock_offset": None,
    "version": None,
    "update": None,
    "devices": [],
    "devices_ok": 0,
}


def test_gateways(client: TestClient) -> None:
    r = client.get("/gateways")
    assert r.status_code == 200
    assert r.json() == [
        {
            "gateway": GW1,
            "last_seen": "2025-11-30T08:01:05.123Z",
            "last_seen_wib": "2025-11-30T15:01:05.123+07:00",
            "last_seq": 1842,
            "state": "online",
            "state_time": "2025-11-30T08:00:00.000Z",
            "state_time_wib": "2025-11-30T15:00:00.000+07:00",
            **NO_DETAILS,
        },
        {
            "gateway": GW2,
            "last_seen": None,
            "last_seen_wib": None,
            "last_seq": None,
            "state": "offline",
            "state_time": "2025-11-30T08:03:00.000Z",
            "state_time_wib": "2025-11-30T15:03:00.000+07:00",
            **NO_DETAILS,
        },
    ]


# -- /health and the broker check ----------------------------------------------------------


def test_health_without_broker(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "store": {"ok": True, "backend": "sqlite", "problem": None},
        "broker": {"ok": None},
    }


@pytest.mark.services
def test_health_with_real_broker_and_closed_port(
    sqlite_store: SQLiteStore, broker: Mosquitto
) -> None:
    up = TestClient(
        create_app(sqlite_store, functools.partial(mqtt_reachable, broker.url), access=open_reads())
    )
    assert up.get("/health").json() == {
        "status": "ok",
        "store": {"ok": True, "backend": "sqlite", "problem": None},
        "broker": {"ok": True},
    }
    closed = f"mqtt://127.0.0.1:{free_port()}"
    down = TestClient(
        create_app(
            sqlite_store, functools.partial(mqtt_reachable, closed, 1.0), access=open_reads()
        )
    )
    r = down.get("/health")
    assert r.status_code == 200  # the API still serves the data it has
    assert r.json()["status"] == "degraded"
    assert r.json()["broker"] == {"ok": False}


@pytest.mark.services
def test_mqtt_reachable(broker: Mosquitto, tmp_path: Path) -> None:
    assert mqtt_reachable(broker.url, 2.0) is True
    assert mqtt_reachable(f"mqtt://127.0.0.1:{free_port()}", 1.0) is False
    # A broker that refuses anonymous clients is still up: its CONNACK counts.
    with mosquitto(tmp_path / "auth", passwords={"ingest": "s3cret-pw"}) as locked:
        assert mqtt_reachable(locked.url, 2.0) is True
    # A port that accepts TCP but never speaks MQTT is not a broker.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert mqtt_reachable(f"mqtt://127.0.0.1:{silent.getsockname()[1]}", 0.5) is False
    with pytest.raises(ValueError, match="not an MQTT URL"):
        mqtt_reachable("http://127.0.0.1:1883")


# -- store failures: JSON errors, never a traceback ----------------------------------------


def assert_store_down(client: TestClient, backend: str) -> None:
    r = client.get("/health")
    assert r.status_code == 503
    assert r.json()["store"] == {"ok": False, "backend": backend, "problem": None}
    assert r.json()["status"] == "degraded"
    for path in ("/readings/latest", "/gateways"):
        r = client.get(path)
        assert r.status_code == 503, path
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {
            "error": "store_unavailable",
            "message": f"the {backend} store is unavailable; try again later",
        }


def test_sqlite_store_down_is_503(tmp_path: Path) -> None:
    store = closed_store(tmp_path)
    assert_store_down(TestClient(create_app(store, access=open_reads())), "sqlite")


@pytest.mark.services
def test_influx_store_down_is_503() -> None:
    from store.influx import InfluxStore

    store = InfluxStore(f"http://127.0.0.1:{free_port()}", "jagajalan", timeout=2.0)
    try:
        assert_store_down(TestClient(create_app(store, access=open_reads())), "influxdb")
    finally:
        store.close()


class _Broken(SQLiteStore):
    def latest(
        self, gateway: str | None = None, measurement: str | None = None
    ) -> list[LatestValue]:
        raise RuntimeError("bug")

    def gateways(self) -> list[GatewaySeen]:
        raise StoreRejected("InfluxDB refused (HTTP 400): error parsing query")


def test_other_failures_are_json_too(tmp_path: Path) -> None:
    client = TestClient(
        create_app(_Broken(tmp_path / "s.sqlite"), access=open_reads()),
        raise_server_exceptions=False,
    )
    r = client.get("/readings/latest")
    assert (r.status_code, r.json()["error"]) == (500, "internal_error")
    r = client.get("/gateways")
    assert (r.status_code, r.json()["error"]) == (502, "store_error")


# -- InfluxDB backend ----------------------------------------------------------------------


@pytest.mark.services
def test_api_on_real_influxdb_answers_like_on_sqlite(
    influx: Influx, influx_db: str, client: TestClient
) -> None:
    from store.influx import InfluxStore

    store = InfluxStore(influx.url, influx_db)
    try:
        store.ensure()
        fill(store)
        on_influx = TestClient(create_app(store, access=open_reads()))
        for path in ("/readings/latest", "/gateways", "/readings/latest?measurement=traffic"):
            r = on_influx.get(path)
            assert r.status_code == 200, r.text
            assert r.json() == client.get(path).json(), path
        assert on_influx.get("/health").json()["store"] == {
            "ok": True,
            "backend": "influxdb",
            "problem": None,
        }
    finally:
        store.close()


# -- OpenAPI -------------------------------------------------------------------------------


def test_openapi_schema_and_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "JagaJalan API"
    assert {"/health", "/gateways", "/readings/latest"} <= set(schema["paths"])
    latest = schema["paths"]["/readings/latest"]["get"]
    assert {p["name"] for p in latest["parameters"]} == {"gateway", "measurement"}
    assert {"200", "422", "503"} <= set(latest["responses"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
