"""``GET /sites/latest`` for a district of 500 sites on a real InfluxDB (``make bench``).

500 sites, one gateway each, in an SQLite registry; in InfluxDB, per gateway: the last 24 h of
raw readings every 5 minutes (water level, PM2.5/PM10, traffic counts of three vehicle
classes), its batches and status, and the indicators the analytics job writes (flood status
and traffic every 5 minutes for 24 h, hourly ISPU for 30 days). The API app is called
in-process (ASGI, no socket), so the figure is the API's own work plus InfluxDB's.

The app runs as ``api run`` runs it on InfluxDB: with the latest values kept in memory,
refreshed every :data:`REFRESH` seconds in the background (api/latest_cache.py); the first
request waits for the first fill. Prints the p50 / p99 latency of the whole answer, the
store's share (what one refresh reads, and what each request read before the cache), the
refresh's own p50 and the answer's size.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

from fastapi import FastAPI

from api.access import open_reads
from api.app import create_app
from registry import db
from registry.read import RegistryReader
from store.influx import InfluxStore
from telemetry.mapping import Point, to_lines
from testkit.ingest import wait_for
from testkit.services import influxd
from testkit.sites import import_registry

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SITES = 500
STEP = 300_000  # 5 minutes
HOUR, DAY = 3_600_000, 86_400_000
REQUESTS = 200
REFRESH = 5.0  # api.settings.INFLUX_LATEST_REFRESH: `api run`'s default on InfluxDB


def registry_doc(n: int) -> str:
    rows = []
    for i in range(n):
        rows.append(
            f'[[sites]]\nid = "s-{i:03d}"\nname = "Site {i}"\nroad = "Jl. {i}"\n'
            f'kecamatan = "Pauh"\nlatitude = -2.1\nlongitude = 102.8\n'
            '[sites.flood]\nladder = "road_depth"\nwaspada_cm = 10\nsiaga_cm = 20\nawas_cm = 30\n'
            f'[[gateways]]\nid = "gw-{i:03d}"\nsite = "s-{i:03d}"\n'
        )
    return "\n".join(rows)


def points(gateway: str, now: int) -> list[Point]:
    out: list[Point] = []
    tags = {"gateway": gateway}
    for t in range(now - DAY, now, STEP):
        out.append(Point("water_level", {**tags, "sensor": "wl1"}, {"level": 5.0}, t))
        out.append(
            Point("air_quality", {**tags, "sensor": "env1"}, {"pm25": 30.0, "pm10": 40.0}, t)
        )
        for cls in ("MP", "KS", "SM"):
            fields = {"count": 10, "speed_mean": 40.0}
            out.append(
                Point("traffic", {**tags, "sensor": "cnt1", "vehicle_class": cls}, fields, t)
            )
        out.append(Point("gateway_batches", tags, {"seq": t // STEP}, t))
        out.append(Point("gateway_status", tags, {"state": "online"}, t))
        flood = {"level": "normal", "level_code": 0, "water_level": 5.0}
        out.append(Point("jagajalan_flood_status", {**tags, "sensor": "wl1"}, flood, t))
        traffic = {"flow_smp": 900.0, "degree_of_saturation": 0.4, "los": "B"}
        out.append(Point("jagajalan_traffic", {**tags, "sensor": "cnt1"}, traffic, t))
    for t in range(now - 30 * DAY, now, HOUR):
        ispu = {"ispu": 60.0, "category": "sedang", "colour": "#0000ff", "dominant": "pm25"}
        out.append(Point("jagajalan_ispu_hourly", {**tags, "sensor": "env1"}, ispu, t))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, influxd(Path(tmp) / "influxd") as influx:
        store = InfluxStore(influx.url, "bench_sites", timeout=60)
        store.ensure()
        now = int(time.time() * 1000) // STEP * STEP
        started = time.perf_counter()
        total = 0
        for i in range(SITES):
            lines = to_lines(points(f"gw-{i:03d}", now))
            store._write_body(lines)
            total += lines.count(b"\n") + 1
        print(f"sites_points_written {total} in {time.perf_counter() - started:.0f} s")
        engine = db.engine_for(f"sqlite+pysqlite:///{Path(tmp) / 'registry.sqlite3'}")
        import_registry(engine, Path(tmp) / "registry.toml", registry_doc(SITES))
        app = create_app(
            store, access=open_reads(), registry=RegistryReader(engine), latest_refresh=REFRESH
        )
        with TestClient(app) as client:  # the lifespan runs the refresher
            measure(client, app, store)
        engine.dispose()
        store.close()


def measure(client: TestClient, app: FastAPI, store: InfluxStore) -> None:
    cache = app.state.latest
    wait_for(lambda: cache.age_seconds() is not None, 120, "the first fill")
    first = client.get("/sites/latest")
    assert first.status_code == 200 and len(first.json()["sites"]) == SITES, first.text[:300]
    assert all(s["flood"] and s["air"] and s["traffic"] for s in first.json()["sites"])
    took, store_took = [], []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        client.get("/sites/latest")
        took.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        (
            store.gateways(),
            store.latest(),
            store.newest_of(
                ["jagajalan_flood_status", "jagajalan_ispu_hourly", "jagajalan_traffic"]
            ),
        )
        store_took.append(time.perf_counter() - t0)
    q = statistics.quantiles(took, n=100)
    s = statistics.quantiles(store_took, n=100)
    print(f"sites_latest_500_p50_ms {q[49] * 1000:.1f}")
    print(f"sites_latest_500_p99_ms {q[98] * 1000:.1f}")
    print(f"sites_latest_500_store_p50_ms {s[49] * 1000:.1f}")
    print(f"sites_latest_500_store_p99_ms {s[98] * 1000:.1f}")
    print(f"sites_latest_500_bytes {len(first.content)}")
    refreshes = []
    for _ in range(10):
        t0 = time.perf_counter()
        if not cache.refresh_now():
            raise AssertionError("a refresh of the latest values failed")
        refreshes.append(time.perf_counter() - t0)
    print(f"latest_refresh_with_answer_500_p50_ms {statistics.median(refreshes) * 1000:.1f}")


if __name__ == "__main__":
    main()
