"""``GET /conditions`` labels the latest readings of a real SQLite store with the domain's
names: flood status, ISPU category, traffic flow and level of service."""

from __future__ import annotations

import warnings
from pathlib import Path

from starlette.exceptions import StarletteDeprecationWarning

from api.access import open_reads
from api.app import create_app
from store.sqlite import SQLiteStore
from telemetry.mapping import Point
from testkit.points import GW1, GW2, MIN, T0, air

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def water(gateway: str, time_ms: int, level: float) -> Point:
    tags = {"gateway": gateway, "sensor": "wl1"}
    return Point("water_level", tags, {"level": level, "distance": 280.0 - level}, time_ms)


def flow(gateway: str, lane: str, direction: str, time_ms: int, **fields: float | int) -> Point:
    tags = {"gateway": gateway, "sensor": "cnt1", "lane": lane, "direction": direction}
    return Point("traffic_flow", tags, fields, time_ms)


def client_with(tmp_path: Path, points: list[Point]) -> TestClient:
    store = SQLiteStore(tmp_path / "c.sqlite")
    store.ensure()
    store.write(points)
    return TestClient(create_app(store, access=open_reads()))


def test_conditions_label_water_air_and_traffic(tmp_path: Path) -> None:
    client = client_with(
        tmp_path,
        [
            water(GW1, T0, -3.0),
            water(GW1, T0 + MIN, 23.4),  # the newest: siaga, dangerous for motorcycles
            air(GW1, T0, pm25=12.0),
            air(GW1, T0 + MIN, pm25=72.3),  # tidak sehat
            flow(GW1, "1", "N", T0, count=99, pcu_flow=999.0, speed_mean=10.0),
            flow(GW1, "1", "N", T0 + MIN, count=30, pcu_flow=400.0, speed_mean=40.0),
            flow(GW1, "2", "S", T0 + MIN, count=10, pcu_flow=200.0, speed_mean=20.0),
            Point(
                "traffic_segment",
                {"gateway": GW1, "sensor": "cnt1"},
                {"count": 40, "pcu_flow": 600.0, "degree_of_saturation": 0.8},
                T0 + MIN,
            ),
            air(GW2, T0, pm25=5.0),
        ],
    )
    r = client.get("/conditions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["gateway"] for s in body] == [GW1, GW2]
    site = body[0]
    assert site["water"]["level_cm"] == 23.4
    assert site["water"]["status"] == "siaga"
    assert site["water"]["status_label"] == "Siaga"
    assert site["water"]["status_label_en"] == "Alert"
    assert site["water"]["road"] == "bahaya_motor"
    assert site["water"]["road_label"] == "Bahaya bagi sepeda motor"
    assert site["air"]["category"] == "tidak_sehat"
    assert site["air"]["category_label"] == "Tidak Sehat"
    assert site["air"]["ispu"] == 117.8  # 100 + (72.3 - 55.4) / (150.4 - 55.4) * 100
    assert site["air"]["time_wib"].endswith("+07:00")
    t = site["traffic"]
    assert t["vehicles"] == 40 and t["pcu_per_hour"] == 600.0
    assert t["speed_mean"] == 35.0  # weighted by the vehicles of each lane
    assert t["degree_of_saturation"] == 0.8 and t["los"] == "D"
    other = body[1]
    assert other["water"] is None and other["traffic"] is None
    assert other["air"]["category"] == "baik" and other["air"]["category_label_en"] == "Good"


def test_conditions_of_one_gateway_and_bad_ids(tmp_path: Path) -> None:
    client = client_with(tmp_path, [water(GW1, T0, 12.0), water(GW2, T0, 31.0)])
    body = client.get("/conditions", params={"gateway": GW2}).json()
    assert [(s["gateway"], s["water"]["status"]) for s in body] == [(GW2, "awas")]
    bad = client.get("/conditions", params={"gateway": "Not An Id"})
    assert bad.status_code == 422 and bad.json()["error"]
