"""Open data (analytics/ngsild.py): JagaJalan readings as FIWARE Smart Data Models entities,
validated against the models' published JSON schemas shipped in smart_data_models/ (offline:
every $ref resolves to a shipped file or fails)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError

from analytics import ngsild
from analytics.flood import BATANGHARI_TANGGO_RAJO
from analytics.ispu import station_ispu
from simulators.scenario.engine import Scenario
from store.sqlite import SQLiteStore
from telemetry.mapping import batch_to_points
from telemetry.models import Batch, Reading
from tests.analytics.smart_models import SITE_INFO, check


def scenario_readings(name: str, hours: range) -> list[tuple[str, Reading]]:
    scenario = Scenario.load(name, seed=1)
    out = []
    for gateway in scenario.sites:
        for h in hours:
            t = scenario.start + h * 3600
            for sv in scenario.readings(gateway, t, 60.0):
                reading = Reading(
                    sensor=sv.sensor,
                    measurement=sv.measurement,
                    time=round(t * 1000),
                    fields=sv.fields,
                    tags=sv.tags,
                )
                out.append((gateway, reading))
    return out


#: What a gateway's traffic counter publishes (docs/protocol.md 2.1 and 5.1).
COUNTER = [
    Reading(
        sensor="cnt1",
        measurement="traffic_flow",
        time=1764489540000,
        fields={
            "count": 37,
            "pcu_flow": 1480.0,
            "occupancy": 0.21,
            "speed_mean": 42.6,
            "speed_p85": 55.0,
            "headway_mean": 1.6,
            "degree_of_saturation": 0.93,
        },
        tags={"lane": "1", "direction": "N"},
    ),
    Reading(
        sensor="cnt1",
        measurement="traffic",
        time=1764489540000,
        fields={"count": 21, "speed_mean": 45.1, "speed_p85": 58.0},
        tags={"lane": "1", "direction": "N", "vehicle_class": "SM"},
    ),
    Reading(
        sensor="cnt1",
        measurement="traffic",
        time=1764489540000,
        fields={"count": 3, "speed_mean": 38.0, "speed_p85": 41.0},
        tags={"lane": "2", "direction": "S", "vehicle_class": "TB"},
    ),
    Reading(
        sensor="cnt1",
        measurement="traffic_segment",
        time=1764489540000,
        fields={"count": 61, "pcu_flow": 2210.0, "degree_of_saturation": 0.71},
    ),
]


@pytest.mark.parametrize(
    "scenario", ["normal_day", "rainy_season_flood", "haze_episode", "rush_hour_congestion"]
)
def test_every_entity_of_the_scenarios_validates_against_its_published_schema(scenario):
    readings = scenario_readings(scenario, range(0, 24, 3))
    ispu = {gw: station_ispu({"pm25": 41.3, "pm10": 63.0}) for gw in SITE_INFO}
    result = ngsild.export(readings, SITE_INFO, ispu=ispu)
    assert result.problems == []
    for entity in result.entities:
        check(entity)
    types = {e["type"] for e in result.entities}
    assert {"AirQualityObserved", "WeatherObserved", "TrafficFlowObserved"} <= types
    # one entity per observed thing: the newest reading of each (8 sample hours went in)
    ids = [e["id"] for e in result.entities]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    last = max(r.time for _, r in readings)
    assert all(
        e.get("dateObserved", ngsild.iso_utc(last)) == ngsild.iso_utc(last) for e in result.entities
    )


def test_water_levels_of_a_flooding_road_become_flood_monitoring_with_the_ladders_status():
    readings = scenario_readings("rainy_season_flood", range(0, 72, 2))
    water = [(gw, r) for gw, r in readings if r.measurement == "water_level"]
    assert water, "the flood scenario has water level gauges"
    statuses = set()
    for gw, r in water:
        entity = ngsild.flood_monitoring(SITE_INFO[gw], r)
        check(entity)
        statuses.add(entity["floodLevelStatus"])
        assert entity["currentLevel"] == pytest.approx(r.fields["level"] / 100)
        assert entity["alertLevel"] == 0.1 and entity["dangerLevel"] == 0.3
    assert "normal" in statuses and len(statuses) > 1, statuses


def test_a_traffic_counters_readings_become_lanes_classes_and_a_segment():
    site = ngsild.SiteInfo(
        "srl-pasar-01", "Jl. Lintas Sumatera", -2.2985, 102.7045, forward_direction="N"
    )
    result = ngsild.export([("srl-pasar-01", r) for r in COUNTER], {"srl-pasar-01": site})
    assert result.problems == []
    by_id = {e["id"]: e for e in result.entities}
    base = "urn:ngsi-ld:TrafficFlowObserved:srl-pasar-01:cnt1"
    assert sorted(by_id) == [base, f"{base}:lane1:N", f"{base}:lane1:N:SM", f"{base}:lane2:S:TB"]
    for entity in result.entities:
        check(entity)
    lane = by_id[f"{base}:lane1:N"]
    assert lane["intensity"] == 37 and lane["occupancy"] == 0.21
    assert lane["averageVehicleSpeed"] == 42.6 and lane["averageHeadwayTime"] == 1.6
    assert lane["laneId"] == 1 and lane["laneDirection"] == "forward"
    assert lane["congested"] is True  # DJ 0.93 is past PKJI's design limit of 0.85
    assert by_id[base]["congested"] is False and "laneId" not in by_id[base]
    heavy = by_id[f"{base}:lane2:S:TB"]
    assert heavy["vehicleType"] == "lorry" and heavy["vehicleSubType"] == "TB"
    assert heavy["laneDirection"] == "backward"
    assert by_id[f"{base}:lane1:N:SM"]["vehicleType"] == "motorcycle"


def test_golden_air_quality_entity():
    site = SITE_INFO["srl-pasar-01"]
    reading = Reading(
        sensor="env1",
        measurement="air_quality",
        time=1764489600000,
        fields={"pm25": 41.3, "pm10": 63.0, "temperature": 29.4, "humidity": 78.5},
    )
    entity = ngsild.air_quality_observed(site, reading, station_ispu({"pm25": 41.3}))
    assert entity == {
        "id": "urn:ngsi-ld:AirQualityObserved:srl-pasar-01:env1",
        "type": "AirQualityObserved",
        "name": "Jl. Lintas Sumatera, Pasar Sarolangun",
        "location": {"type": "Point", "coordinates": [102.7045, -2.2985]},
        "dataProvider": "JagaJalan",
        "address": {
            "addressLocality": "Sarolangun",
            "addressRegion": "Kabupaten Sarolangun, Jambi",
            "addressCountry": "ID",
        },
        "dateObserved": "2025-11-30T08:00:00Z",
        "typeofLocation": "outdoor",
        "areaServed": "Sarolangun",
        "pm25": 41.3,
        "pm10": 63.0,
        "temperature": 29.4,
        "relativeHumidity": 0.785,
        "airQualityIndex": 82,  # ISPU of 41.3 µg/m³ PM2.5: Sedang
        "airQualityLevel": "sedang",
        "refDevice": "urn:ngsi-ld:Device:srl-pasar-01:env1",
        "@context": [
            "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
            "context.jsonld",
            ngsild.CORE_CONTEXT,
        ],
    }
    check(entity)


def test_golden_weather_and_flood_entities_on_a_river_gauge():
    site = ngsild.SiteInfo(
        "srl-tembesi-01",
        "Jl. Tepian Batang Tembesi",
        -2.3040,
        102.6985,
        flood_ladder=BATANGHARI_TANGGO_RAJO,
    )
    weather = Reading(
        sensor="wx1",
        measurement="weather",
        time=1764489600250,
        fields={
            "temperature": 26.0,
            "humidity": 97.0,
            "pressure": 1009.8,
            "rain": 2.4,
            "rain_intensity": 14.4,
            "wind_speed": 1.2,
            "wind_direction": 360.0,
        },
    )
    w = ngsild.weather_observed(site, weather)
    check(w)
    assert {k: w[k] for k in w if k not in ("@context", "location", "name", "address")} == {
        "id": "urn:ngsi-ld:WeatherObserved:srl-tembesi-01:wx1",
        "type": "WeatherObserved",
        "dataProvider": "JagaJalan",
        "dateObserved": "2025-11-30T08:00:00.250Z",
        "temperature": 26.0,
        "relativeHumidity": 0.97,
        "atmosphericPressure": 1009.8,
        "precipitation": 2.4,
        "windSpeed": 1.2,
        "windDirection": 360.0,
        "refDevice": "urn:ngsi-ld:Device:srl-tembesi-01:wx1",
    }
    gauge = Reading(
        sensor="wl1",
        measurement="water_level",
        time=1764489600000,
        fields={"level": 1440.0, "distance": 560.0},
    )
    f = ngsild.flood_monitoring(site, gauge)
    check(f)
    assert (f["currentLevel"], f["measuredDistance"], f["referenceLevel"]) == (14.4, 5.6, 20.0)
    assert (f["alertLevel"], f["dangerLevel"]) == (13.85, 14.87)
    assert f["floodLevelStatus"] == "siaga_2"  # 14.40 m: past Siaga II (14.37), below Siaga I
    assert f["observationDateTime"] == "2025-11-30T08:00:00Z" and f["stationID"] == site.gateway


def test_the_schemas_are_really_applied_through_their_refs():
    """Guard against a validator that accepts anything: a wrong location (checked through the
    $ref to the shipped common schema) and an unscaled humidity are refused."""
    reading = Reading(
        sensor="env1",
        measurement="air_quality",
        time=1764489600000,
        fields={"pm25": 41.3, "humidity": 78.5},
    )
    entity = ngsild.air_quality_observed(SITE_INFO["srl-pasar-01"], reading)
    check(entity)
    with pytest.raises(ValidationError):
        check({**entity, "location": {"type": "Point", "coordinates": "here"}})
    with pytest.raises(ValidationError):
        check({**entity, "relativeHumidity": 78.5})
    with pytest.raises(ValidationError):
        check({**entity, "airQualityLevel": "x"})  # via the Environment schema's alias URL


def test_a_bad_reading_is_left_out_with_a_clear_problem_and_the_rest_is_exported():
    good = Reading(
        sensor="wx1", measurement="weather", time=1764489600000, fields={"temperature": 26.0}
    )
    no_count = Reading(
        sensor="cnt1",
        measurement="traffic_flow",
        time=1764489600000,
        fields={"speed_mean": 40.0},
        tags={"lane": "1"},
    )
    negative = Reading(
        sensor="env1", measurement="air_quality", time=1764489600000, fields={"pm25": -3.0}
    )
    no_pm = Reading(
        sensor="env1", measurement="air_quality", time=1764489600000, fields={"temperature": 30.0}
    )
    health = Reading(
        sensor="gateway", measurement="gateway_health", time=1764489600000, fields={"uptime": 5.0}
    )
    readings = [("srl-pasar-01", r) for r in (good, no_count, negative, no_pm, health)]
    readings.append(("srl-unknown-01", good))
    result = ngsild.export(readings, SITE_INFO)
    assert [e["id"] for e in result.entities] == ["urn:ngsi-ld:WeatherObserved:srl-pasar-01:wx1"]
    assert result.problems == [
        "traffic_flow reading of srl-pasar-01/cnt1 at 1764489600000: field 'count' is missing",
        "air_quality reading of srl-pasar-01/env1 at 1764489600000: field 'pm25' = -3.0 is below 0",
        "air_quality reading of srl-pasar-01/env1 at 1764489600000: neither field 'pm25' nor "
        "'pm10' is present",
        "weather reading of srl-unknown-01/wx1 at 1764489600000: no site is known for gateway "
        "'srl-unknown-01'",
    ]
    with pytest.raises(ngsild.ExportError, match="field 'count' is missing"):
        ngsild.traffic_flow_observed(SITE_INFO["srl-pasar-01"], no_count)


def test_types_filter_and_unknown_types():
    readings = scenario_readings("normal_day", range(8, 9))
    only = ngsild.export(readings, SITE_INFO, types=["WeatherObserved"])
    assert only.entities and {e["type"] for e in only.entities} == {"WeatherObserved"}
    with pytest.raises(ValueError, match=r"unknown entity type.*'Parking'"):
        ngsild.export(readings, SITE_INFO, types=["Parking"])


@given(st.integers(min_value=946_684_800_000, max_value=4_102_444_799_999))
def test_iso_utc_agrees_with_datetime(ms):
    text = ngsild.iso_utc(ms)
    assert datetime.fromisoformat(text) == datetime.fromtimestamp(ms / 1000, UTC).replace(
        microsecond=(ms % 1000) * 1000
    )


FIELD = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False) | st.integers(-10, 5000)
NAMES = st.sampled_from(
    [
        "pm25",
        "pm10",
        "temperature",
        "humidity",
        "pressure",
        "rain",
        "wind_speed",
        "wind_direction",
        "level",
        "distance",
        "count",
        "occupancy",
        "speed_mean",
        "headway_mean",
        "degree_of_saturation",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    measurement=st.sampled_from([*sorted(ngsild.MODEL_OF), "road_surface"]),
    fields=st.dictionaries(NAMES, FIELD, min_size=1, max_size=8),
    lane=st.sampled_from([None, "0", "1", "3", "x"]),
    direction=st.sampled_from([None, "N", "E"]),
    cls=st.sampled_from([None, "SM", "KR", "ZZ"]),
)
def test_any_reading_gives_a_valid_entity_or_a_clear_refusal(
    measurement, fields, lane, direction, cls
):
    tags = {
        k: v
        for k, v in (("lane", lane), ("direction", direction), ("vehicle_class", cls))
        if v is not None
    }
    reading = Reading(
        sensor="s1", measurement=measurement, time=1764489600000, fields=fields, tags=tags
    )
    site = ngsild.SiteInfo("srl-pasar-01", "Pasar", -2.2985, 102.7045, forward_direction="N")
    try:
        entity = ngsild.entity(site, reading)
    except ngsild.ExportError as exc:
        assert "srl-pasar-01/s1" in str(exc)
        return
    if entity is None:
        assert measurement not in ngsild.MODEL_OF
        return
    check(entity)
    assert entity["type"] == ngsild.MODEL_OF[measurement]
    assert all(not isinstance(v, float) or math.isfinite(v) for v in entity.values())


def test_site_info_refuses_impossible_coordinates_and_directions():
    with pytest.raises(ValueError, match="latitude 91"):
        ngsild.SiteInfo("g", "n", 91, 0)
    with pytest.raises(ValueError, match="forward_direction 'NE'"):
        ngsild.SiteInfo("g", "n", 0, 0, forward_direction="NE")


def test_the_newest_stored_points_export_as_they_were_read(tmp_path):
    """What an endpoint will do: the store read interface's newest point of each series,
    through from_point, gives the same entities as the readings themselves."""
    readings = scenario_readings("rainy_season_flood", range(0, 48, 6))
    store = SQLiteStore(tmp_path / "opendata.sqlite")
    store.ensure()
    for gateway in {gw for gw, _ in readings}:
        mine = [r for gw, r in readings if gw == gateway]
        store.write(
            batch_to_points(Batch(gateway=gateway, seq=0, sent=mine[-1].time, readings=mine))
        )
    newest = [p for m in sorted(ngsild.MODEL_OF) for p in store.newest(m)]
    assert newest
    stored = ngsild.export([ngsild.from_point(p) for p in newest], SITE_INFO)
    direct = ngsild.export(readings, SITE_INFO)
    assert stored.problems == [] and stored.entities == direct.entities
    assert {e["type"] for e in stored.entities} == {
        "AirQualityObserved",
        "WeatherObserved",
        "TrafficFlowObserved",
        "FloodMonitoring",
    }
    for entity in stored.entities:
        check(entity)
    store.close()
