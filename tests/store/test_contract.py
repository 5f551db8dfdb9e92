"""One contract for every store backend: SQLite (embedded) and a real InfluxDB 1.x process.

Each test runs against both. What they share is InfluxDB's own behaviour: a point is
identified by (measurement, tag set, time); rewriting it merges its fields, later values
winning; a field's type never changes, and a write holding a conflicting point stores the
valid points and is refused (StoreRejected) for the rest.

All times stay within a few hours of T0 so that every point lands in one InfluxDB shard
(InfluxDB checks field types per shard). The store of each backend: conftest.py; series
(windows, zones, keyset pages): test_contract_series.py.
"""

from __future__ import annotations

import threading

import pytest

from store import Store, StoreRejected
from store.base import GatewaySeen, LatestValue
from telemetry.mapping import Point, status_point
from telemetry.models import DERIVED_MEASUREMENTS
from testkit.points import GW1, GW2, GW3, MIN, T0, air, batch_point, traffic


def kinds(fields: dict[str, object]) -> dict[str, type]:
    return {name: type(value) for name, value in fields.items()}


def test_ping_and_ensure_is_idempotent(store: Store) -> None:
    assert store.ping() is True
    store.write([air(GW1, T0, pm25=1.5)])
    store.ensure()
    store.ensure()
    assert store.count("air_quality") == 1
    assert store.ping() is True


def test_empty_store_answers_empty(store: Store) -> None:
    assert store.points("air_quality") == []
    assert store.count("air_quality") == 0
    assert store.latest() == []
    assert store.gateways() == []


def test_round_trip_keeps_types_tags_and_milliseconds(store: Store) -> None:
    written = [
        air(GW1, T0 + 123, pm25=41.3, pm10=20.0, temperature=-0.5, humidity=0.0),
        traffic(GW1, "1", T0 + 7, count=37, speed_mean=42.0),
        traffic(GW1, "2", T0 + 8, count=0),
        status_point(GW1, "online", T0 + 999),
    ]
    store.write(written)
    got = store.points("air_quality") + store.points("traffic") + store.points("gateway_status")
    assert got == [written[0], written[1], written[2], written[3]]
    for want, have in zip(written, got, strict=True):
        # 20.0 stays a float, 37 stays an int, "online" stays a str.
        assert kinds(have.fields) == kinds(want.fields)
    assert type(got[1].time_ms) is int


def test_rewriting_a_point_merges_fields_and_counts_once(store: Store) -> None:
    store.write([air(GW1, T0, pm25=1.0, pm10=2.0)])
    store.write([air(GW1, T0, pm25=5.0, temperature=30.0)])  # redelivery with changes
    assert store.count("air_quality") == 1
    (point,) = store.points("air_quality")
    assert point.fields == {"pm25": 5.0, "pm10": 2.0, "temperature": 30.0}
    # The same point twice within one write: merged too, the later values winning.
    store.write([air(GW1, T0 + MIN, pm25=1.0), air(GW1, T0 + MIN, pm25=2.0, pm10=3.0)])
    assert store.count("air_quality") == 2
    assert store.points("air_quality")[1].fields == {"pm25": 2.0, "pm10": 3.0}
    latest = {v.field: v.value for v in store.latest(measurement="air_quality")}
    assert latest == {"pm25": 2.0, "pm10": 3.0, "temperature": 30.0}


def test_tags_are_part_of_the_identity(store: Store) -> None:
    store.write([traffic(GW1, "1", T0, count=1), traffic(GW1, "2", T0, count=2)])
    store.write([air(GW1, T0, pm25=1.0), air(GW2, T0, pm25=2.0)])
    assert store.count("traffic") == 2
    assert store.count("air_quality") == 2


def test_count_and_points_per_measurement_and_gateway(store: Store) -> None:
    store.write(
        [air(GW1, T0 + i * MIN, pm25=float(i)) for i in range(5)]
        + [air(GW2, T0 + i * MIN, pm25=float(i)) for i in range(3)]
        + [traffic(GW1, lane, T0 + i * MIN, count=i) for i in range(4) for lane in "12"]
        + [batch_point(GW1, 1, T0)]
    )
    assert store.count("air_quality") == 8
    assert store.count("air_quality", GW1) == 5
    assert store.count("air_quality", GW2) == 3
    assert store.count("air_quality", GW3) == 0
    assert store.count("traffic", GW1) == 8
    assert store.count("traffic", GW2) == 0
    assert store.count("gateway_batches", GW1) == 1
    assert store.count("weather") == 0
    gw2 = store.points("air_quality", GW2)
    assert [p.time_ms for p in gw2] == [T0, T0 + MIN, T0 + 2 * MIN]  # oldest first
    assert {p.tags["gateway"] for p in gw2} == {GW2}


def test_count_with_sparse_fields(store: Store) -> None:
    # Traffic intervals without vehicles carry no speed_mean (docs/protocol.md 5.1).
    store.write(
        [
            traffic(GW1, "1", T0, count=3, speed_mean=40.0),
            traffic(GW1, "1", T0 + MIN, count=0),
            traffic(GW1, "1", T0 + 2 * MIN, count=0),
        ]
    )
    assert store.count("traffic") == 3


def fill_for_latest(store: Store) -> None:
    # Written newest first for GW1 lane 1: the order of writes must not matter.
    store.write([traffic(GW1, "1", T0 + 2 * MIN, count=0)])
    store.write(
        [
            traffic(GW1, "1", T0, count=5, speed_mean=38.0),
            traffic(GW1, "1", T0 + MIN, count=4, speed_mean=41.5),
            traffic(GW1, "2", T0 + MIN, count=7, speed_mean=50.0),
            air(GW1, T0, pm25=10.0, pm10=20.0),
            air(GW1, T0 + MIN, pm25=11.0),
            air(GW2, T0 + 3 * MIN, pm25=30.0, humidity=80.0),
            batch_point(GW1, 4, T0 + 3 * MIN),
            status_point(GW1, "online", T0),
        ]
    )


def test_latest_per_series_and_field(store: Store) -> None:
    fill_for_latest(store)
    got = sorted(
        store.latest(), key=lambda v: (v.gateway, v.measurement, sorted(v.tags.items()), v.field)
    )
    assert got == [
        LatestValue(GW1, "env1", "air_quality", {}, "pm10", 20.0, T0),
        LatestValue(GW1, "env1", "air_quality", {}, "pm25", 11.0, T0 + MIN),
        LatestValue(GW1, "cnt1", "traffic", {"lane": "1"}, "count", 0, T0 + 2 * MIN),
        LatestValue(GW1, "cnt1", "traffic", {"lane": "1"}, "speed_mean", 41.5, T0 + MIN),
        LatestValue(GW1, "cnt1", "traffic", {"lane": "2"}, "count", 7, T0 + MIN),
        LatestValue(GW1, "cnt1", "traffic", {"lane": "2"}, "speed_mean", 50.0, T0 + MIN),
        LatestValue(GW2, "env1", "air_quality", {}, "humidity", 80.0, T0 + 3 * MIN),
        LatestValue(GW2, "env1", "air_quality", {}, "pm25", 30.0, T0 + 3 * MIN),
    ]
    for v in got:
        assert type(v.value) is (int if v.field == "count" else float)


def test_latest_filters_and_skips_pipeline_measurements(store: Store) -> None:
    fill_for_latest(store)
    assert {v.gateway for v in store.latest(gateway=GW2)} == {GW2}
    assert len(store.latest(gateway=GW2)) == 2
    assert {v.measurement for v in store.latest(measurement="traffic")} == {"traffic"}
    assert len(store.latest(measurement="traffic")) == 4
    assert len(store.latest(gateway=GW1, measurement="air_quality")) == 2
    assert store.latest(gateway=GW2, measurement="traffic") == []
    assert store.latest(gateway=GW3) == []
    assert store.latest(measurement="weather") == []
    assert store.latest(measurement="gateway_batches") == []
    assert store.latest(measurement="gateway_status") == []
    assert not {v.measurement for v in store.latest()} & {"gateway_batches", "gateway_status"}


def test_latest_leaves_out_the_derived_indicator_measurements(store: Store) -> None:
    """What the indicators job writes back (jagajalan_ispu_hourly, ...) is not a reading:
    /readings/latest lists readings only, though other queries still read the indicators."""
    fill_for_latest(store)
    before = store.latest()
    derived = [
        Point(m, {"gateway": GW1, "sensor": "env1"}, {"level_code": 1, "level": "siaga_3"}, T0)
        for m in DERIVED_MEASUREMENTS
    ]
    store.write(derived)
    assert store.latest() == before
    for m in DERIVED_MEASUREMENTS:
        assert store.latest(measurement=m) == []
        assert store.count(m, GW1) == 1  # written, and readable by name


def test_gateways_from_batches_and_status(store: Store) -> None:
    store.write([batch_point(GW1, 11, T0 + MIN), status_point(GW1, "offline", T0 + 90_000)])
    store.write(  # older ones arrive later
        [
            batch_point(GW1, 10, T0),
            status_point(GW1, "online", T0),
            status_point(GW2, "online", T0 + 5),
            batch_point(GW3, 0, T0 + 7),
            air(GW1, T0 + 5 * MIN, pm25=1.0),  # readings do not make "last seen"
        ]
    )
    assert store.gateways() == [
        GatewaySeen(GW3, last_seen_ms=T0 + 7, last_seq=0, state=None, state_time_ms=None),
        GatewaySeen(GW1, T0 + MIN, 11, "offline", T0 + 90_000),
        GatewaySeen(GW2, None, None, "online", T0 + 5),
    ]


def test_field_type_conflict_is_rejected_naming_the_field(store: Store) -> None:
    store.write([traffic(GW1, "1", T0, count=3)])
    with pytest.raises(StoreRejected, match="count"):
        store.write([traffic(GW1, "1", T0 + MIN, count=3.5)])
    with pytest.raises(StoreRejected, match="state"):
        store.write(
            [status_point(GW1, "online", T0), Point("gateway_status", {}, {"state": 1.0}, T0)]
        )
    (point,) = store.points("traffic")
    assert point.fields == {"count": 3}
    assert type(point.fields["count"]) is int


def test_partial_write_keeps_valid_points_like_influxdb(store: Store) -> None:
    store.write([traffic(GW1, "1", T0, count=3)])
    with pytest.raises(StoreRejected, match=r"count.*dropped=1"):
        store.write(
            [
                air(GW1, T0, pm25=1.0),
                traffic(GW1, "2", T0, count=2.5, speed_mean=40.0),  # dropped whole
                traffic(GW1, "1", T0 + MIN, count=4, speed_mean=41.0),
            ]
        )
    assert store.count("air_quality") == 1
    assert [(p.tags["lane"], p.fields) for p in store.points("traffic")] == [
        ("1", {"count": 3}),
        ("1", {"count": 4, "speed_mean": 41.0}),
    ]
    assert {v.tags["lane"] for v in store.latest(measurement="traffic")} == {"1"}


def test_first_point_of_a_write_fixes_a_new_fields_type(store: Store) -> None:
    # InfluxDB 1.6 quirk: when the shard is created by this very write, it refuses the whole
    # write ("field type conflict", nothing stored); once the shard exists the write is
    # partial, as here.
    store.write([air(GW1, T0, pm25=1.0)])
    with pytest.raises(StoreRejected, match="level"):
        store.write(
            [
                Point("water_level", {"gateway": GW1, "sensor": "lvl1"}, {"level": 12.5}, T0),
                Point("water_level", {"gateway": GW1, "sensor": "lvl1"}, {"level": 13}, T0 + 1),
            ]
        )
    (point,) = store.points("water_level")
    assert point.fields == {"level": 12.5}


def test_one_writer_thread_and_reader_threads_share_a_store(store: Store) -> None:
    """Ingest's writer thread and the API's worker threads use one store object at once."""
    done = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(100):
                store.write([traffic(GW1, "2", T0 + i * 1000, count=i), batch_point(GW1, i, T0)])
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                store.latest()
                store.gateways()
                store.count("traffic")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert store.count("traffic") == 100
    (count,) = store.latest(measurement="traffic")
    assert (count.value, count.time_ms) == (99, T0 + 99_000)
    assert store.gateways()[0].last_seq == 99


def _device(gateway: str, device: str, state: str, time_ms: int) -> Point:
    tags = {"gateway": gateway, "device": device}
    fields = {"state": state, "last_error": "", "stuck": "", "errors": 0}
    return Point("jagajalan_device_status", tags, fields, time_ms)


def test_points_in_a_time_window(store: Store) -> None:
    written = [_device(GW1, "wl1", s, T0 + i * MIN) for i, s in enumerate("abcd")]
    store.write([*written, _device(GW2, "wl1", "x", T0 + MIN)])
    # start included, end excluded; either bound optional; one gateway.
    got = store.points("jagajalan_device_status", GW1, T0 + MIN, T0 + 3 * MIN)
    assert got == written[1:3]
    assert store.points("jagajalan_device_status", GW1, start_ms=T0 + 2 * MIN) == written[2:]
    assert store.points("jagajalan_device_status", GW1, end_ms=T0 + MIN) == written[:1]
    assert len(store.points("jagajalan_device_status", start_ms=T0 + MIN)) == 4
    assert store.points("jagajalan_device_status", GW1, T0 + 9 * MIN, T0 + 10 * MIN) == []
    assert store.points("no_such_measurement", GW1, T0, T0 + MIN) == []


def test_newest_point_of_each_series(store: Store) -> None:
    store.write(
        [
            _device(GW1, "wl1", "ok", T0),
            _device(GW1, "wl1", "unplugged", T0 + 2 * MIN),
            _device(GW1, "env1", "ok", T0 + MIN),
            _device(GW2, "wl1", "timeout", T0 + 3 * MIN),
            status_point(GW1, "online", T0),
        ]
    )
    newest = store.newest("jagajalan_device_status")
    assert {
        (p.tags["gateway"], p.tags["device"], p.fields["state"], p.time_ms) for p in newest
    } == {
        (GW1, "wl1", "unplugged", T0 + 2 * MIN),
        (GW1, "env1", "ok", T0 + MIN),
        (GW2, "wl1", "timeout", T0 + 3 * MIN),
    }
    assert all(type(p.fields["errors"]) is int for p in newest)
    mine = store.newest("jagajalan_device_status", GW1)
    assert [(p.tags["device"], p.fields["state"]) for p in mine] == [
        ("env1", "ok"),
        ("wl1", "unplugged"),
    ]
    # Before a time: the newest point older than it (none for a series that starts later).
    before = store.newest("jagajalan_device_status", GW1, before_ms=T0 + 2 * MIN)
    assert [(p.tags["device"], p.fields["state"], p.time_ms) for p in before] == [
        ("env1", "ok", T0 + MIN),
        ("wl1", "ok", T0),
    ]
    assert store.newest("jagajalan_device_status", GW1, before_ms=T0) == []
    assert store.newest("gateway_status") == [status_point(GW1, "online", T0)]
    assert store.newest("no_such_measurement") == []
