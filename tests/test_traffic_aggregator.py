"""Aggregation of vehicle records into per-lane interval readings (gateway/traffic.py)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.traffic import MAX_CATCH_UP_INTERVALS, Aggregator, Heartbeat, VehicleRecord
from telemetry.models import Reading

T0 = 1_796_025_600_000  # 2026-11-30T08:00:00Z, a multiple of 60 s
MIN = 60_000


def veh(time_ms: int, lane: int = 1, speed: float = 40.0) -> VehicleRecord:
    return VehicleRecord(time_ms, lane, "N" if lane % 2 else "S", speed, 1.8, "SM")


def table(readings: list[Reading]) -> list[tuple[int, str, dict]]:
    return [(r.time, r.tags["lane"], r.fields) for r in readings]


def agg(lanes=(1, 2), grace_s: float = 2.0, interval_s: int = 60) -> Aggregator:
    return Aggregator("cnt1", interval_s, lanes, grace_s)


def test_partial_first_interval_is_dropped_and_next_closes_after_grace() -> None:
    a = agg()
    assert a.feed(veh(T0 + 30_000, speed=50.0)) == []  # first time seen: interval is partial
    assert a.feed(veh(T0 + MIN + 1_000, lane=1, speed=40.0)) == []
    assert a.feed(veh(T0 + MIN + 2_000, lane=1, speed=45.5)) == []
    assert a.feed(veh(T0 + 2 * MIN + 1_999, lane=2)) == []  # end + grace not reached yet
    out = a.feed(Heartbeat(T0 + 2 * MIN + 2_000))  # exactly end + grace
    assert table(out) == [
        (T0 + MIN, "1", {"count": 2, "speed_mean": 42.75}),
        (T0 + MIN, "2", {"count": 0}),
    ]
    assert a.before_start == 1 and a.counted == 3
    assert all(r.sensor == "cnt1" and r.measurement == "traffic" for r in out)
    assert isinstance(out[0].fields["count"], int)


def test_tick_closes_intervals_with_zero_counts_for_every_lane() -> None:
    a = agg(lanes=(2, 1, 3), grace_s=0.5)
    assert a.tick(T0 + 10) == []
    assert a.tick(T0 + MIN + 499) == []
    assert a.tick(T0 + 2 * MIN + 499) == []
    out = a.tick(T0 + 3 * MIN + 500)  # two intervals closed at once
    assert table(out) == [
        (T0 + MIN, "1", {"count": 0}),
        (T0 + MIN, "2", {"count": 0}),
        (T0 + MIN, "3", {"count": 0}),
        (T0 + 2 * MIN, "1", {"count": 0}),
        (T0 + 2 * MIN, "2", {"count": 0}),
        (T0 + 2 * MIN, "3", {"count": 0}),
    ]
    assert a.tick(T0 + 3 * MIN + 900) == []  # never published twice
    assert a.tick(T0 + 2 * MIN) == []  # the clock going back closes nothing


def test_grace_lets_records_of_the_previous_interval_in() -> None:
    a = agg(grace_s=2.0)
    a.tick(T0 + 59_000)
    a.feed(veh(T0 + 2 * MIN + 500, lane=2, speed=30.0))  # next interval already running
    a.feed(veh(T0 + 2 * MIN - 1, lane=2, speed=50.0))  # arrives late but within grace
    out = a.tick(T0 + 2 * MIN + 2_000)
    assert table(out) == [
        (T0 + MIN, "1", {"count": 0}),
        (T0 + MIN, "2", {"count": 1, "speed_mean": 50.0}),
    ]
    assert a.late == 0


def test_very_late_record_is_counted_and_dropped() -> None:
    a = agg(grace_s=1.0)
    a.tick(T0)
    closed = a.tick(T0 + 2 * MIN + 1_000)
    assert [r.time for r in closed] == [T0 + MIN, T0 + MIN]
    assert a.feed(veh(T0 + MIN + 30_000)) == []  # its interval is closed already
    assert a.late == 1 and a.counted == 0
    out = a.tick(T0 + 3 * MIN + 1_000)
    assert table(out)[0] == (T0 + 2 * MIN, "1", {"count": 0})


def test_unknown_lane_is_counted_and_ignored() -> None:
    a = agg(lanes=(1,))
    a.tick(T0)
    a.feed(veh(T0 + MIN + 5, lane=3))
    a.feed(veh(T0 + MIN + 6, lane=3))
    a.feed(veh(T0 + MIN + 7, lane=1, speed=33.3))
    out = a.tick(T0 + 2 * MIN + 2_000)
    assert table(out) == [(T0 + MIN, "1", {"count": 1, "speed_mean": 33.3})]
    assert a.unknown_lanes == {3: 2}


def test_speed_mean_is_rounded_to_hundredths() -> None:
    a = agg(lanes=(1,), grace_s=0, interval_s=1)
    a.tick(T0 - 1)
    for speed in (40.1, 40.2, 40.2):
        a.feed(veh(T0 + 100, speed=speed))
    (reading,) = a.tick(T0 + 1_000)
    assert reading.fields == {"count": 3, "speed_mean": 40.17}
    assert reading.time == T0


def test_intervals_are_aligned_to_the_epoch() -> None:
    a = agg(lanes=(1,), grace_s=0, interval_s=7)
    a.tick(T0)  # T0 is not a multiple of 7 s
    first = a.tick(T0 + 20_000)
    assert first and all(r.time % 7_000 == 0 for r in first)
    assert [r.time for r in first] == [T0 - T0 % 7_000 + 7_000 * k for k in (1, 2)]


def test_reset_forgets_time_so_the_outage_is_not_published() -> None:
    a = agg(lanes=(1,), grace_s=0)
    a.tick(T0)
    a.feed(veh(T0 + MIN + 1))
    a.reset()  # e.g. the cable was pulled
    assert a.tick(T0 + 5 * MIN + 10) == []  # a new partial interval, nothing for the outage
    assert a.discarded == 1
    assert [r.time for r in a.tick(T0 + 7 * MIN)] == [T0 + 6 * MIN]


def test_times_outside_the_reading_range_are_ignored() -> None:
    a = agg()
    assert a.tick(12_000) == []  # gateway clock not set (1970)
    assert a.out_of_range == 1
    assert a.tick(T0) == []  # so this is still the first time seen: partial interval


def test_a_clock_jump_does_not_flood_zero_readings() -> None:
    a = agg(lanes=(1,), grace_s=0)
    a.tick(T0)
    a.feed(veh(T0 + MIN + 1, speed=20.0))
    jump = T0 + (MAX_CATCH_UP_INTERVALS + 10) * MIN
    out = a.feed(Heartbeat(jump))
    assert table(out) == [(T0 + MIN, "1", {"count": 1, "speed_mean": 20.0})]
    assert a.skipped_intervals == MAX_CATCH_UP_INTERVALS + 8
    assert [r.time for r in a.tick(jump + MIN)] == [jump]


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 10 * 1000), st.sampled_from([1, 2, 3]), st.integers(0, 900)),
        max_size=60,
    )
)
def test_in_order_stream_is_published_exactly(vehicles: list[tuple[int, int, int]]) -> None:
    """Records in time order: every complete interval holds exactly the records inside it."""
    a = agg(lanes=(1, 2), grace_s=0.3, interval_s=1)
    start = T0 + 1_000
    out = a.tick(T0 + 400)
    for offset, lane, tenths in sorted(vehicles):
        out += a.feed(veh(start + offset, lane, tenths / 10))
    out += a.tick(start + 12_000)
    assert [r.time for r in out[::2]] == [start + k * 1_000 for k in range(11)]
    for r in out:
        speeds = [
            tenths / 10
            for offset, lane, tenths in vehicles
            if str(lane) == r.tags["lane"] and r.time <= start + offset < r.time + 1_000
        ]
        assert r.fields["count"] == len(speeds)
        if speeds:
            assert r.fields["speed_mean"] == round(math.fsum(speeds) / len(speeds), 2)
        else:
            assert "speed_mean" not in r.fields
    assert a.unknown_lanes.get(3, 0) == sum(1 for v in vehicles if v[1] == 3)
