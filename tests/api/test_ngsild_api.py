"""``GET /ngsi-ld/v1/entities``: the registry's sites and the newest readings served as FIWARE
Smart Data Models entities, each valid against the model's published schema (the schemas
shipped in tests/analytics/smart_data_models), over an SQLite store and a real InfluxDB."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.access import open_reads
from api.app import create_app
from registry import db
from registry.read import RegistryReader
from store import Store
from store.sqlite import SQLiteStore
from telemetry.mapping import Point
from testkit.points import GW1, GW2, MIN, T0, air
from testkit.sites import GAUGE, import_registry
from tests.analytics.smart_models import check

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

PATH = "/ngsi-ld/v1/entities"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml")
    yield engine
    engine.dispose()


def seed(store: Store) -> None:
    lane = {"gateway": GW1, "sensor": "cnt1", "lane": "1", "direction": "N"}
    store.write(
        [
            air(GW1, T0, pm25=41.3, pm10=63.0),
            air(GW1, T0 + MIN, pm25=80.0, pm10=70.0, temperature=31.5, humidity=78.0),
            Point("water_level", {"gateway": GW1, "sensor": "wl1"}, {"level": 22.5}, T0),
            Point("water_level", {"gateway": GAUGE, "sensor": "wl1"}, {"level": 1080.0}, T0),
            Point(
                "weather",
                {"gateway": GW1, "sensor": "wx1"},
                {"temperature": 30.1, "humidity": 80.0, "pressure": 1008.2, "rain": 2.5},
                T0,
            ),
            Point("traffic_flow", lane, {"count": 37, "speed_mean": 42.6}, T0),
            Point("traffic", {**lane, "vehicle_class": "SM"}, {"count": 21}, T0),
            air("srl-unknown-01", T0, pm25=5.0),  # no site in the registry: left out
            Point(
                "jagajalan_ispu_hourly",
                {"gateway": GW1, "sensor": "env1"},
                {"ispu": 112.4, "category": "tidak_sehat", "colour": "#ffff00", "dominant": "pm25"},
                T0,
            ),
        ]
    )


def client_for(store: Store, registry: Engine) -> TestClient:
    app = create_app(store, access=open_reads(), registry=RegistryReader(registry))
    return TestClient(app)


def test_the_newest_readings_are_valid_smart_data_models_entities(
    store: Store, registry: Engine
) -> None:
    seed(store)
    r = client_for(store, registry).get(PATH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
    entities = r.json()
    for entity in entities:
        check(entity)  # the published JSON schema of its model
    by_id = {e["id"]: e for e in entities}
    assert sorted(by_id) == [e["id"] for e in entities]
    assert {e["type"] for e in entities} == {
        "AirQualityObserved",
        "FloodMonitoring",
        "TrafficFlowObserved",
        "WeatherObserved",
    }
    air_now = by_id[f"urn:ngsi-ld:AirQualityObserved:{GW1}:env1"]
    assert (air_now["pm25"], air_now["relativeHumidity"]) == (80.0, 0.78)
    assert (air_now["airQualityIndex"], air_now["airQualityLevel"]) == (112, "tidak_sehat")
    assert air_now["name"] == "Jl. Lintas Sumatera, Pasar Sarolangun"
    assert air_now["location"]["coordinates"] == [102.7045, -2.2985]
    assert air_now["address"]["addressLocality"] == "Sarolangun"
    road = by_id[f"urn:ngsi-ld:FloodMonitoring:{GW1}:wl1"]
    assert (road["currentLevel"], road["floodLevelStatus"]) == (0.225, "siaga")
    assert (road["alertLevel"], road["dangerLevel"]) == (0.1, 0.3)
    gauge = by_id[f"urn:ngsi-ld:FloodMonitoring:{GAUGE}:wl1"]
    assert (gauge["currentLevel"], gauge["floodLevelStatus"]) == (10.8, "siaga_2")
    assert (gauge["alertLevel"], gauge["dangerLevel"]) == (9.5, 11.5)
    assert f"urn:ngsi-ld:TrafficFlowObserved:{GW1}:cnt1:lane1:N:SM" in by_id
    assert by_id[f"urn:ngsi-ld:TrafficFlowObserved:{GW1}:cnt1:lane1:N"]["intensity"] == 37
    assert not any("srl-unknown-01" in e["id"] for e in entities)
    assert not any(GW2 in e["id"] for e in entities)  # GW2 sent nothing exported


def test_type_and_id_filter_and_json_is_served_on_request(store: Store, registry: Engine) -> None:
    seed(store)
    client = client_for(store, registry)
    floods = client.get(PATH, params={"type": "FloodMonitoring"}).json()
    assert {e["type"] for e in floods} == {"FloodMonitoring"} and len(floods) == 2
    two = client.get(PATH, params={"type": "FloodMonitoring,WeatherObserved"}).json()
    assert {e["type"] for e in two} == {"FloodMonitoring", "WeatherObserved"}
    one_id = f"urn:ngsi-ld:FloodMonitoring:{GAUGE}:wl1"
    assert [e["id"] for e in client.get(PATH, params={"id": one_id}).json()] == [one_id]
    plain = client.get(
        PATH, params={"type": "WeatherObserved"}, headers={"accept": "application/json"}
    )
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()[0]["type"] == "WeatherObserved"
    assert client.get(PATH, params={"options": "keyValues"}).status_code == 200


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"type": "Parking"}, "Parking"),
        ({"type": "FloodMonitoring,WaterQuality"}, "WaterQuality"),
        ({"options": "normalized"}, "normalized"),
    ],
)
def test_an_unknown_type_is_a_400_naming_it(
    registry: Engine, tmp_path: Path, params: dict, named: str
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    r = client_for(store, registry).get(PATH, params=params)
    assert r.status_code == 400 and r.json()["error"] == "invalid_parameter"
    assert named in r.json()["message"]
    store.close()
