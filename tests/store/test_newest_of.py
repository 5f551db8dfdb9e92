"""``StoreReader.newest_of``: the newest point of each series of several measurements in one
call, the same points as :meth:`newest` per measurement, on SQLite and on a real InfluxDB
(where it is two HTTP requests whatever the number of measurements and series)."""

from __future__ import annotations

import pytest

from store import Store
from telemetry.mapping import Point
from telemetry.models import FLOOD_STATUS_MEASUREMENT, ISPU_HOURLY_MEASUREMENT
from testkit.points import GW1, GW2, MIN, T0, air, traffic


def flood(gateway: str, time_ms: int, code: int) -> Point:
    fields = {"level": ["normal", "waspada"][code], "level_code": code, "water_level": 9.5 + code}
    return Point(FLOOD_STATUS_MEASUREMENT, {"gateway": gateway, "sensor": "wl1"}, fields, time_ms)


def test_the_newest_point_of_each_series_of_each_measurement(store: Store) -> None:
    store.write(
        [
            air(GW1, T0, pm25=41.3, pm10=63.0),
            air(GW1, T0 + MIN, pm25=40.0),  # newest of GW1; pm10 only in the older point
            air(GW2, T0 + 2 * MIN, pm25=12.5),
            traffic(GW1, "1", T0, count=37),
            traffic(GW1, "2", T0 + MIN, count=3),
            flood(GW1, T0, 0),
            flood(GW1, T0 + 5 * MIN, 1),
            flood(GW2, T0, 0),
        ]
    )
    wanted = ["air_quality", FLOOD_STATUS_MEASUREMENT, "traffic", ISPU_HOURLY_MEASUREMENT]
    got = store.newest_of([*wanted, "air_quality"])  # a name twice counts once
    assert list(got) == wanted
    for measurement in wanted:
        assert got[measurement] == store.newest(measurement), measurement
    assert [(p.tags["gateway"], p.time_ms) for p in got[FLOOD_STATUS_MEASUREMENT]] == [
        (GW1, T0 + 5 * MIN),
        (GW2, T0),
    ]
    newest_air = {p.tags["gateway"]: p.fields for p in got["air_quality"]}
    assert newest_air == {GW1: {"pm25": 40.0}, GW2: {"pm25": 12.5}}
    assert got[FLOOD_STATUS_MEASUREMENT][0].fields == {
        "level": "waspada",
        "level_code": 1,
        "water_level": 10.5,
    }
    assert len(got["traffic"]) == 2  # one per lane
    assert got[ISPU_HOURLY_MEASUREMENT] == []  # nothing written: empty, not missing
    assert store.newest_of([]) == {}


@pytest.mark.services
def test_on_influxdb_it_is_two_requests_whatever_the_series(influx, influx_db) -> None:  # type: ignore[no-untyped-def]
    from store.influx import InfluxStore

    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    requests: list[str] = []
    store._client.event_hooks["request"].append(lambda r: requests.append(r.url.path))
    try:
        for n in (2, 60):
            store.write([flood(f"gw-{i:03d}", T0 + i, i % 2) for i in range(n)])
            store.write([air(f"gw-{i:03d}", T0 + i, pm25=float(i)) for i in range(n)])
            requests.clear()
            got = store.newest_of(["air_quality", FLOOD_STATUS_MEASUREMENT, "traffic"])
            assert requests == ["/query", "/query"], requests
            assert len(got[FLOOD_STATUS_MEASUREMENT]) == len(got["air_quality"]) == n
            assert got["traffic"] == []
    finally:
        store.close()
