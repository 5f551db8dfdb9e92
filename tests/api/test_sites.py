"""``GET /sites``, ``/sites/{site}`` and ``/sites/latest``: the registry's sites in the API,
on an SQLite and a PostgreSQL registry, over an SQLite store and a real InfluxDB.

The indicator points are computed from readings by the analytics job's own functions
(indicators/compute.py), so the field names the API maps are the ones the job writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from api.access import open_reads
from api.app import create_app
from indicators import compute
from indicators.config import IndicatorsConfig, Site
from registry import db
from registry.read import RegistryReader
from store import Store
from store.sqlite import SQLiteStore
from telemetry.mapping import Point, status_point
from testkit import REPO, children
from testkit.points import GW1, GW2, MIN, T0, air, batch_point
from testkit.postgres import Postgres, throwaway
from testkit.services import free_port, wait_port
from testkit.sites import GAUGE, REGISTRY, import_registry

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with throwaway() as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated registry holding :data:`REGISTRY`, of each kind."""
    if request.param == "sqlite":
        engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        engine = db.engine_for(pg.sqlalchemy_url)
        with engine.begin() as connection:  # every table the previous test's migrations made
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    import_registry(engine, tmp_path / "registry.toml")
    yield engine
    engine.dispose()


#: The job compares the readings' cm; the registry holds the gauge's ladder in m.
CONFIG = IndicatorsConfig(
    sites=[Site(gateway=GAUGE, flood_levels={"siaga_3": 950, "siaga_2": 1050, "siaga_1": 1150})]
)
HOUR = 3_600_000


def water(gateway: str, time_ms: int, level: float) -> Point:
    return Point("water_level", {"gateway": gateway, "sensor": "wl1"}, {"level": level}, time_ms)


def vehicles(gateway: str, time_ms: int, count: int, cls: str = "MP") -> Point:
    tags = {"gateway": gateway, "sensor": "cnt1", "vehicle_class": cls}
    return Point("traffic", tags, {"count": count, "speed_mean": 40.0}, time_ms)


def seed(store: Store) -> dict[str, list[Point]]:
    """Readings of GW1 (water 12.5 cm, air, traffic) and of the gauge (1080 cm), statuses (GW1
    online, GW2 offline, the gauge never), and the indicators the job computes from them."""
    readings = [
        water(GW1, T0, 12.5),
        water(GW1, T0 + MIN, 12.5),
        water(GAUGE, T0, 1080.0),  # cm above the gauge's zero: 10.8 m
        air(GW1, T0, pm25=41.3, pm10=63.0),
        air(GW1, T0 + MIN, pm25=80.0, pm10=70.0),
        vehicles(GW1, T0, 30),
        vehicles(GW1, T0, 5, "KS"),
    ]
    store.write(
        [
            *readings,
            batch_point(GW1, 1842, T0 + MIN + 5_123),
            batch_point(GW2, 7, T0 + 2 * MIN),
            status_point(GW1, "online", T0),
            status_point(GW2, "offline", T0 + 3 * MIN),
        ]
    )
    levels = [p for p in readings if p.measurement == "water_level"]
    airs = [p for p in readings if p.measurement == "air_quality"]
    counts = [p for p in readings if p.measurement == "traffic"]
    indicators = {
        "flood": compute.flood_status(levels, CONFIG, T0, T0 + HOUR),
        "ispu": compute.ispu_hourly(airs, CONFIG, T0, T0 + HOUR),
        "traffic": compute.traffic(counts, [], [], CONFIG, T0, T0 + HOUR),
    }
    store.write([p for points in indicators.values() for p in points])
    return indicators


def client_for(store: Store, engine: Engine | None) -> TestClient:
    registry = RegistryReader(engine, cache_seconds=0) if engine is not None else None
    return TestClient(create_app(store, access=open_reads(), registry=registry))


def test_sites_lists_the_registry_facts(store: Store, registry_engine: Engine) -> None:
    client = client_for(store, registry_engine)
    sites = client.get("/sites").json()
    assert [s["id"] for s in sites] == ["pasar-sarolangun", "pauh", "pos-duga-tembesi", "singkut"]
    pasar = client.get("/sites/pasar-sarolangun").json()
    assert pasar == sites[0]
    assert pasar["road_type"] == "arteri_primer" and pasar["capacity_smp_per_hour"] == 2300
    assert (pasar["latitude"], pasar["longitude"], pasar["segment"]) == (
        -2.2985,
        102.7045,
        "Pasar Sarolangun",
    )
    assert pasar["flood"] == {
        "ladder": "road_depth",
        "unit": "cm",
        "thresholds": [
            {"status": "waspada", "value": 10.0},
            {"status": "siaga", "value": 20.0},
            {"status": "awas", "value": 30.0},
        ],
    }
    assert pasar["gateways"] == [
        {
            "id": GW1,
            "sensors": [
                {"id": "cnt1", "device": "traffic_counter", "profile": None},
                {"id": "wl1", "device": "modbus", "profile": "ultrasonic-level"},
            ],
        }
    ]
    gauge = sites[2]["flood"]
    assert gauge["unit"] == "m" and [t["status"] for t in gauge["thresholds"]] == [
        "siaga_3",
        "siaga_2",
        "siaga_1",
    ]
    assert sites[3]["flood"] is None and sites[3]["gateways"] == []
    missing = client.get("/sites/nowhere")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "nowhere" in missing.json()["message"]
    bad = client.get("/sites/Not_A_Site")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"


def test_latest_shows_the_district_in_one_call(store: Store, registry_engine: Engine) -> None:
    indicators = seed(store)
    body = client_for(store, registry_engine).get("/sites/latest").json()
    assert body["time"].endswith("Z") and body["time_wib"].endswith("+07:00")
    sites = {s["id"]: s for s in body["sites"]}
    assert list(sites) == ["pasar-sarolangun", "pauh", "pos-duga-tembesi", "singkut"]

    pasar = sites["pasar-sarolangun"]
    assert pasar["online"] is True
    assert pasar["gateways"] == [
        {
            "id": GW1,
            "online": True,
            "last_seen": "2025-11-30T08:01:05.123Z",
            "last_seen_wib": "2025-11-30T15:01:05.123+07:00",
        }
    ]
    # The job's level key on its default ladder is hati_hati; the site's ladder names it.
    flood_levels = {p.tags["gateway"]: p.fields["level"] for p in indicators["flood"]}
    assert flood_levels == {GW1: "hati_hati", GAUGE: "siaga_2"}
    assert pasar["flood"] == {
        "status": "waspada",
        "code": 1,
        "level": 12.5,
        "unit": "cm",
        "time": "2025-11-30T08:00:00.000Z",
        "time_wib": "2025-11-30T15:00:00.000+07:00",
    }
    (ispu,) = indicators["ispu"]
    assert pasar["air"] == {
        "ispu": ispu.fields["ispu"],
        "category": ispu.fields["category"],
        "colour": ispu.fields["colour"],
        "dominant": ispu.fields["dominant"],
        "time": "2025-11-30T08:00:00.000Z",
        "time_wib": "2025-11-30T15:00:00.000+07:00",
    }
    assert (
        pasar["air"]["category"] in ("sedang", "tidak_sehat") and pasar["air"]["dominant"] == "pm25"
    )
    (flow,) = indicators["traffic"]
    assert pasar["traffic"]["los"] == flow.fields["los"]
    assert pasar["traffic"]["ds"] == flow.fields["degree_of_saturation"] > 0
    assert pasar["traffic"]["flow_smp_per_hour"] == flow.fields["flow_smp"] > 0
    latest = {(v["measurement"], v["field"], tuple(v["tags"].items())): v for v in pasar["latest"]}
    level = latest[("water_level", "level", ())]
    assert (level["value"], level["unit"], level["time"]) == (
        12.5,
        "cm",
        "2025-11-30T08:01:00.000Z",
    )
    assert latest[("air_quality", "pm25", ())]["value"] == 80.0
    assert latest[("traffic", "count", (("vehicle_class", "KS"),))]["value"] == 5
    assert {v["gateway"] for v in pasar["latest"]} == {GW1}

    pauh = sites["pauh"]
    assert pauh["online"] is False and pauh["gateways"][0]["online"] is False
    assert pauh["flood"] is None and pauh["air"] is None and pauh["traffic"] is None
    assert pauh["latest"] == []

    gauge = sites["pos-duga-tembesi"]
    assert gauge["online"] is None and gauge["gateways"] == [
        {"id": GAUGE, "online": None, "last_seen": None, "last_seen_wib": None}
    ]
    assert (gauge["flood"]["status"], gauge["flood"]["code"]) == ("siaga_2", 2)
    assert (gauge["flood"]["level"], gauge["flood"]["unit"]) == (10.8, "m")

    singkut = sites["singkut"]
    assert singkut["gateways"] == [] and singkut["online"] is None and singkut["latest"] == []


class Counting:
    """The store, counting the calls of each of its methods."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        attr = getattr(self.inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(name)
            return attr(*args, **kwargs)

        return counted


def many_sites(count: int) -> str:
    rows = []
    for i in range(count):
        rows.append(
            f'[[sites]]\nid = "s-{i:03d}"\nname = "S {i}"\nroad = "Jl. {i}"\n'
            f'kecamatan = "Pauh"\nlatitude = -2.1\nlongitude = 102.8\n'
            '[sites.flood]\nladder = "road_depth"\nwaspada_cm = 10\nsiaga_cm = 20\nawas_cm = 30\n'
            f'[[gateways]]\nid = "gw-{i:03d}"\nsite = "s-{i:03d}"\n'
        )
    return "\n".join(rows)


def test_latest_costs_the_same_store_calls_for_3_or_120_sites(store: Store, tmp_path: Path) -> None:
    """Three store calls whatever the number of sites; on InfluxDB the same few HTTP requests
    for 3 sites as for 120 (store/influx_latest.py: the last hour first, then last() only
    for what that hour does not hold: these readings are old, so both)."""
    requests: list[str] = []
    per_size: list[int] = []
    if hasattr(store, "_client"):
        store._client.event_hooks["request"].append(lambda r: requests.append(r.url.path))
    counting = Counting(store)
    for n in (3, 120):
        engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / f'r{n}.sqlite3'}")
        import_registry(engine, tmp_path / f"r{n}.toml", many_sites(n))
        gws = [f"gw-{i:03d}" for i in range(n)]
        store.write([water(g, T0 + i, 15.0 + i % 20) for i, g in enumerate(gws)])
        store.write([status_point(g, "online", T0) for g in gws])
        store.write(compute.flood_status(store.points("water_level"), CONFIG, T0, T0 + HOUR))
        counting.calls.clear()
        requests.clear()
        client = TestClient(
            create_app(counting, access=open_reads(), registry=RegistryReader(engine))  # type: ignore[arg-type]
        )
        body = client.get("/sites/latest").json()
        engine.dispose()
        assert len(body["sites"]) == n
        assert all(s["flood"] and s["online"] for s in body["sites"])
        assert sorted(counting.calls) == ["gateways", "latest", "newest_of"], counting.calls
        per_size.append(len(requests))
    assert per_size[0] == per_size[1] <= (8 if hasattr(store, "_client") else 0), per_size


def test_without_a_registry_the_sites_answer_503_saying_how(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite")
    client = client_for(store, None)
    for path in ("/sites", "/sites/latest", "/sites/pauh"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert r.json()["error"] == "registry_unavailable"
        assert "--registry-db" in r.json()["message"]
    store.close()


def test_a_registry_not_migrated_answers_503_and_logs_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite")
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'empty.sqlite3'}")
    r = client_for(store, engine).get("/sites/latest")
    assert r.status_code == 503 and r.json() == {
        "error": "registry_unavailable",
        "message": "the registry cannot be read now; try again later",
    }
    assert "jagajalan registry upgrade" in caplog.text
    engine.dispose()
    store.close()


def test_the_cache_keeps_the_list_until_forgotten(registry_engine: Engine, tmp_path: Path) -> None:
    reader = RegistryReader(registry_engine, cache_seconds=3600)
    assert len(reader.sites()) == 4
    import_registry(registry_engine, tmp_path / "more.toml", REGISTRY + many_sites(2))
    assert len(reader.sites()) == 4  # cached
    reader.forget()
    assert len(reader.sites()) == 6
    assert "password" not in repr(reader) and "RegistryReader(" in repr(reader)


def test_api_run_serves_the_sites_of_its_registry(tmp_path: Path) -> None:
    """`jagajalan api run --registry-db` wires the registry in; a reader of the public group
    sites needs no key, and the other groups stay closed."""
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    seed(store)
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml")
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    log = (tmp_path / "api.log").open("wb")
    argv = [sys.executable, "-m", "jagajalan.cli", "api", "run", "--port", str(port)]
    argv += ["--sqlite", str(tmp_path / "store.sqlite"), "--public-read", "sites"]
    argv += ["--registry-db", str(tmp_path / "registry.sqlite3")]
    proc = children.start(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout=30, proc=proc)
        base = f"http://127.0.0.1:{port}"
        latest = httpx.get(f"{base}/sites/latest", timeout=10)
        assert latest.status_code == 200, latest.text
        sites = {s["id"]: s for s in latest.json()["sites"]}
        assert sites["pasar-sarolangun"]["flood"]["status"] == "waspada"
        assert httpx.get(f"{base}/sites/pauh", timeout=5).json()["gateways"][0]["id"] == GW2
        assert httpx.get(f"{base}/gateways", timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        log.close()
        store.close()
    assert code == 0, (tmp_path / "api.log").read_text()
