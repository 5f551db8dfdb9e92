"""Aggregation of vehicle records into interval readings
(gateway/devices/traffic_counter/aggregate.py)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.devices.traffic_counter.aggregate import (
    MAX_CATCH_UP_INTERVALS,
    Aggregator,
    RecordForwarder,
)
from gateway.devices.traffic_counter.protocol import Heartbeat, VehicleRecord
from gateway.devices.traffic_counter.summary import SummaryConfig
from telemetry.models import Reading
from testkit.traffic_reference import Params, expected_readings, forwarded_times

T0 = 1_796_025_600_000  # 2026-11-30T08:00:00Z, a multiple of 60 s
MIN = 60_000


def veh(
    time_ms: int,
    lane: int = 1,
    speed: float = 40.0,
    cls: str = "SM",
    length: float = 1.8,
    direction: str | None = None,
) -> VehicleRecord:
    return VehicleRecord(time_ms, lane, direction or ("N" if lane % 2 else "S"), speed, length, cls)


def table(readings: list[Reading]) -> list[tuple[str, int, str, dict]]:
    """(measurement, time, "lane/direction/class", fields) per reading, in published order."""
    return [
        (
            r.measurement,
            r.time,
            "/".join(r.tags.get(k, "") for k in ("lane", "direction", "vehicle_class")),
            r.fields,
        )
        for r in readings
    ]


def agg(
    lanes=(1, 2), grace_s: float = 2.0, interval_s: int = 60, directions=None, **summary
) -> Aggregator:
    return Aggregator("cnt1", interval_s, lanes, grace_s, SummaryConfig(**summary), directions)


ZERO = {"count": 0, "pcu_flow": 0.0, "occupancy": 0.0}


def test_partial_first_interval_is_dropped_and_next_closes_after_grace() -> None:
    a = agg()
    assert a.feed(veh(T0 + 30_000, speed=50.0)) == []  # first time seen: interval is partial
    assert a.feed(veh(T0 + MIN + 1_000, speed=40.0)) == []
    assert a.feed(veh(T0 + MIN + 2_000, speed=45.5, length=3.8)) == []
    assert a.feed(veh(T0 + 2 * MIN + 1_999, lane=2)) == []  # end + grace not reached yet
    out = a.feed(Heartbeat(T0 + 2 * MIN + 2_000))  # exactly end + grace
    # occupancy: (1.8 + 2) * 3.6 / 40 = 0.342 s and (3.8 + 2) * 3.6 / 45.5 = 0.45890 s,
    # (0.342 + 0.45890) / 60 = 0.013348; pcu: 2 SM * 0.25 * 3600 / 60 = 30 pcu/h.
    flow = {"count": 2, "pcu_flow": 30.0, "occupancy": 0.0133, "speed_mean": 42.75}
    assert table(out) == [
        ("traffic_flow", T0 + MIN, "1/N/", {**flow, "speed_p85": 45.5, "headway_mean": 1.0}),
        ("traffic", T0 + MIN, "1/N/SM", {"count": 2, "speed_mean": 42.75, "speed_p85": 45.5}),
        ("traffic_flow", T0 + MIN, "2/S/", ZERO),  # lane 2's direction was learned in time
    ]
    assert a.stats.before_start == 1 and a.stats.counted == 3
    assert all(r.sensor == "cnt1" for r in out)
    assert isinstance(out[0].fields["count"], int)
    assert all(isinstance(v, float) for r in out for k, v in r.fields.items() if k != "count")


def test_zero_intervals_are_published_for_every_lane_with_a_direction() -> None:
    a = agg(lanes=(2, 1, 3), grace_s=0.5, directions={1: "E", 2: "W", 3: "E"}, capacity={2: 900})
    assert a.tick(T0 + 10) == []
    assert a.tick(T0 + MIN + 499) == []
    out = a.tick(T0 + 3 * MIN + 500)  # two intervals closed at once
    dense = [
        ("traffic_flow", start, lane, fields)
        for start in (T0 + MIN, T0 + 2 * MIN)
        for lane, fields in (
            ("1/E/", ZERO),
            ("2/W/", {**ZERO, "degree_of_saturation": 0.0}),
            ("3/E/", ZERO),
        )
    ]
    assert table(out) == dense  # zero traffic is data; no per-class readings without vehicles
    assert a.tick(T0 + 3 * MIN + 900) == []  # never published twice
    assert a.tick(T0 + 2 * MIN) == []  # the clock going back closes nothing


def test_a_lane_without_direction_has_zero_readings_only_after_its_first_vehicle() -> None:
    a = agg(lanes=(1, 2), grace_s=0, directions={1: "N"})
    a.tick(T0)
    assert table(a.tick(T0 + 2 * MIN)) == [("traffic_flow", T0 + MIN, "1/N/", ZERO)]
    a.feed(veh(T0 + 2 * MIN + 5, lane=2, direction="W"))
    out = a.tick(T0 + 4 * MIN)
    assert [(m, t, k) for m, t, k, _ in table(out)] == [
        ("traffic_flow", T0 + 2 * MIN, "1/N/"),
        ("traffic_flow", T0 + 2 * MIN, "2/W/"),
        ("traffic", T0 + 2 * MIN, "2/W/SM"),
        ("traffic_flow", T0 + 3 * MIN, "1/N/"),
        ("traffic_flow", T0 + 3 * MIN, "2/W/"),  # learned: W, zero from now on
    ]
    assert out[-1].fields == ZERO
    assert a.directions == {1: "N", 2: "W"}
    a.reset()  # an outage does not forget what was learned
    assert a.directions == {1: "N", 2: "W"}


def test_per_class_split_pcu_p85_and_degree_of_saturation() -> None:
    """One interval of lane 1 with a hand-computed summary."""
    a = agg(lanes=(1,), grace_s=0, directions={1: "N"}, capacity={1: 1200.0})
    a.tick(T0 - 1)
    speeds_sm = [30.0, 42.0, 35.5, 50.0, 41.0, 38.0, 44.0, 47.0, 39.0, 36.0]
    for i, s in enumerate(speeds_sm):
        a.feed(veh(T0 + 1_000 * i, speed=s, length=2.0))
    a.feed(veh(T0 + 20_000, speed=36.0, cls="KR", length=4.0))
    a.feed(veh(T0 + 30_000, speed=52.5, cls="KR", length=4.4))
    a.feed(veh(T0 + 40_000, speed=30.0, cls="TB", length=10.0))
    out = a.tick(T0 + MIN)
    # SM sorted: 30 35.5 36 38 39 41 42 44 47 50; rank ceil(0.85 * 10) = 9 -> 47.0
    # all 13 sorted: 30 30 35.5 36 36 38 39 41 42 44 47 50 52.5; rank ceil(11.05) = 12 -> 50.0
    # pcu/min: 10 * 0.25 + 2 * 1.0 + 1 * 1.3 = 5.8 -> 348 pcu/h; DS = 348 / 1200 = 0.29
    # occupancy, s: SM 4 m each: 14.4 * (1/30 + 1/42 + ... + 1/36) = 3.64954; KR 6 * 3.6 / 36
    # = 0.6 and 6.4 * 3.6 / 52.5 = 0.43886; TB 12 * 3.6 / 30 = 1.44 -> 6.12840 / 60 = 0.1021
    # headway: (40 000 - 0) / 12 / 1000 = 3.333 s
    assert table(out) == [
        (
            "traffic_flow",
            T0,
            "1/N/",
            {
                "count": 13,
                "pcu_flow": 348.0,
                "occupancy": 0.1021,
                "degree_of_saturation": 0.29,
                "speed_mean": 40.08,
                "speed_p85": 50.0,
                "headway_mean": 3.333,
            },
        ),
        ("traffic", T0, "1/N/SM", {"count": 10, "speed_mean": 40.25, "speed_p85": 47.0}),
        ("traffic", T0, "1/N/KR", {"count": 2, "speed_mean": 44.25, "speed_p85": 52.5}),
        ("traffic", T0, "1/N/TB", {"count": 1, "speed_mean": 30.0, "speed_p85": 30.0}),
    ]


def test_undivided_road_motorcycle_factor_and_segment_capacity() -> None:
    emp = {"SM": 0.4, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}  # 2/2UD
    a = agg(grace_s=0, interval_s=300, emp=emp, segment_capacity=2900.0)
    a.tick(T0)
    for i in range(7):
        a.feed(veh(T0 + 5 * MIN + 1_000 * i, lane=1 + i % 2))  # 4 SM north, 3 SM south
    a.feed(veh(T0 + 5 * MIN + 9_000, lane=2, cls="KS", length=7.0))
    out = a.tick(T0 + 10 * MIN)
    flows = {r.tags["lane"]: r.fields["pcu_flow"] for r in out if r.measurement == "traffic_flow"}
    assert flows == {"1": 19.2, "2": 30.0}  # 4 * 0.4 * 12 and (3 * 0.4 + 1.3) * 12
    (segment,) = [r for r in out if r.measurement == "traffic_segment"]
    assert segment.tags == {} and segment.time == T0 + 5 * MIN
    # (7 * 0.4 + 1.3) * 3600 / 300 = 49.2; 49.2 / 2900 = 0.016966 -> 0.017
    assert segment.fields == {"count": 8, "pcu_flow": 49.2, "degree_of_saturation": 0.017}


def test_occupancy_of_stopped_and_crowded_lanes_is_capped() -> None:
    a = agg(lanes=(1,), grace_s=0, interval_s=10, directions={1: "N"}, detection_zone_m=0.0)
    out = a.tick(T0 - 1)
    out += a.feed(veh(T0 + 100, speed=0.0))  # stopped on the loop: the whole interval
    out += a.feed(veh(T0 + 10_100, speed=3.6, length=4.0))  # 4 m at 1 m/s: 4 s of 10
    for i in range(3):  # 3 x 4 s = 12 s of 10 (slow queue, estimates overlap): capped
        out += a.feed(veh(T0 + 20_100 + i, speed=3.6, length=4.0))
    out += a.tick(T0 + 30_000)
    occupancy = [r.fields["occupancy"] for r in out if r.measurement == "traffic_flow"]
    assert occupancy == [1.0, 0.4, 1.0]


def test_contraflow_vehicles_get_their_own_series() -> None:
    a = agg(lanes=(1,), grace_s=0, directions={1: "N"})
    a.tick(T0 - 1)
    a.feed(veh(T0 + 5, direction="S", cls="SM", speed=20.0))  # wrong-way rider
    a.feed(veh(T0 + 6, speed=40.0))
    out = a.tick(T0 + 2 * MIN)
    assert [(m, t, k) for m, t, k, _ in table(out)] == [
        ("traffic_flow", T0, "1/N/"),
        ("traffic", T0, "1/N/SM"),
        ("traffic_flow", T0, "1/S/"),
        ("traffic", T0, "1/S/SM"),
        ("traffic_flow", T0 + MIN, "1/N/"),  # the contraflow series has no zero readings
    ]
    assert a.stats.contraflow == 1


def test_grace_lets_records_of_the_previous_interval_in() -> None:
    a = agg(grace_s=2.0, directions={1: "N", 2: "S"})
    a.tick(T0 + 59_000)
    a.feed(veh(T0 + 2 * MIN + 500, lane=2, speed=30.0))  # next interval already running
    a.feed(veh(T0 + 2 * MIN - 1, lane=2, speed=50.0))  # arrives late but within grace
    out = a.tick(T0 + 2 * MIN + 2_000)
    assert [(k, r["count"]) for _, _, k, r in table(out)] == [
        ("1/N/", 0),
        ("2/S/", 1),
        ("2/S/SM", 1),
    ]
    assert out[-1].fields["speed_mean"] == 50.0
    assert a.stats.late == 0


def test_very_late_record_is_counted_and_dropped() -> None:
    a = agg(grace_s=1.0, directions={1: "N"})
    a.tick(T0)
    closed = a.tick(T0 + 2 * MIN + 1_000)
    assert [r.time for r in closed] == [T0 + MIN]
    assert a.feed(veh(T0 + MIN + 30_000)) == []  # its interval is closed already
    assert a.stats.late == 1 and a.stats.counted == 0
    out = a.tick(T0 + 3 * MIN + 1_000)
    assert table(out) == [("traffic_flow", T0 + 2 * MIN, "1/N/", ZERO)]


def test_unknown_lane_and_class_are_counted_and_ignored() -> None:
    a = agg(lanes=(1,), classes=("SM", "KR"), emp={"SM": 0.25, "KR": 1.0})
    a.tick(T0)
    a.feed(veh(T0 + MIN + 5, lane=3))
    a.feed(veh(T0 + MIN + 6, lane=3))
    a.feed(veh(T0 + MIN + 7, cls="TB"))  # the parser would refuse it; the core ignores it
    a.feed(veh(T0 + MIN + 8, speed=33.3))
    out = a.tick(T0 + 2 * MIN + 2_000)
    assert [(k, r["count"]) for _, _, k, r in table(out)] == [("1/N/", 1), ("1/N/SM", 1)]
    assert a.stats.unknown_lanes == {3: 2}
    assert a.stats.unknown_classes == {"TB": 1}
    assert 3 not in a.directions  # an unknown lane teaches nothing


def test_speed_mean_is_rounded_to_hundredths() -> None:
    a = agg(lanes=(1,), grace_s=0, interval_s=1)
    a.tick(T0 - 1)
    for speed in (40.1, 40.2, 40.2):
        a.feed(veh(T0 + 100, speed=speed))
    flow, per_class = a.tick(T0 + 1_000)
    assert flow.fields["speed_mean"] == per_class.fields["speed_mean"] == 40.17
    assert flow.time == T0
    assert "headway_mean" in flow.fields and flow.fields["headway_mean"] == 0.0


def test_intervals_are_aligned_to_the_epoch() -> None:
    a = agg(lanes=(1,), grace_s=0, interval_s=7, directions={1: "N"})
    a.tick(T0)  # T0 is not a multiple of 7 s
    first = a.tick(T0 + 20_000)
    assert [r.time for r in first] == [T0 - T0 % 7_000 + 7_000 * k for k in (1, 2)]


def test_reset_forgets_time_so_the_outage_is_not_published() -> None:
    a = agg(lanes=(1,), grace_s=0, directions={1: "N"})
    a.tick(T0)
    a.feed(veh(T0 + MIN + 1))
    a.reset()  # e.g. the cable was pulled
    assert a.tick(T0 + 5 * MIN + 10) == []  # a new partial interval, nothing for the outage
    assert a.stats.discarded == 1
    assert [r.time for r in a.tick(T0 + 7 * MIN)] == [T0 + 6 * MIN]


def test_times_outside_the_reading_range_are_ignored() -> None:
    a = agg()
    assert a.tick(12_000) == []  # gateway clock not set (1970)
    assert a.stats.out_of_range == 1
    assert a.tick(T0) == []  # so this is still the first time seen: partial interval


def test_a_clock_jump_does_not_flood_zero_readings() -> None:
    a = agg(lanes=(1,), grace_s=0, directions={1: "N"})
    a.tick(T0)
    a.feed(veh(T0 + MIN + 1, speed=20.0))
    jump = T0 + (MAX_CATCH_UP_INTERVALS + 10) * MIN
    out = a.feed(Heartbeat(jump))
    assert {r.time for r in out} == {T0 + MIN}
    assert out[0].fields["count"] == 1
    assert a.stats.skipped_intervals == MAX_CATCH_UP_INTERVALS + 8
    assert [r.time for r in a.tick(jump + MIN)] == [jump]


def test_directions_for_unconfigured_lanes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"lanes \[3\]"):
        agg(lanes=(1, 2), directions={3: "N"})
    with pytest.raises(ValueError, match="emp factor"):
        SummaryConfig(classes=("SM", "XY"))


# -- record forwarding ------------------------------------------------------------------------
def test_forwarded_vehicle_reading() -> None:
    f = RecordForwarder("cnt1")
    r = f.feed(veh(T0 + 1_250, lane=2, speed=45.2, cls="KR", length=4.4))
    assert r.model_dump() == {
        "sensor": "cnt1",
        "measurement": "vehicle",
        "time": T0 + 1_250,
        "fields": {"speed": 45.2, "length": 4.4},
        "tags": {"lane": "2", "direction": "S", "vehicle_class": "KR"},
    }


def test_same_millisecond_vehicles_are_all_kept_one_ms_apart() -> None:
    f = RecordForwarder("cnt1")
    times = [f.feed(veh(T0, speed=s)).time for s in (40.0, 41.0, 42.0)]
    assert times == [T0, T0 + 1, T0 + 2]
    assert f.feed(veh(T0 + 1, speed=43.0)).time == T0 + 3  # a genuine T0+1 moves on too
    assert f.feed(veh(T0, cls="KR")).time == T0  # another class is another series
    assert f.feed(veh(T0, lane=2)).time == T0  # another lane too
    assert f.shifted == 3


def test_forwarder_forgets_times_older_than_its_window() -> None:
    f = RecordForwarder("cnt1", window_s=10)
    f.feed(veh(T0))
    f.feed(veh(T0 + 20_000))  # T0 is now outside the window
    assert f.feed(veh(T0)).time == T0  # accepted as is: the old point is not remembered


# -- property: summaries equal a recomputation from the records ------------------------------
records = st.lists(
    st.tuples(
        st.integers(0, 6 * 1000),  # ms after the first complete interval
        st.sampled_from([(1, "N"), (1, "S"), (2, "S"), (3, "N")]),
        st.sampled_from(["SM", "SM", "SM", "KR", "KS", "BB", "TB"]),
        st.integers(0, 1500),  # speed, tenths of km/h
        st.integers(5, 180),  # length, tenths of m
    ),
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(records, st.booleans(), st.sampled_from([None, 0.4]))
def test_summaries_match_a_recomputation(vehicles, configured: bool, sm_emp) -> None:
    """Records in time order, closed with ticks: every interval holds exactly the summary
    the reference implementation computes from the records inside it."""
    emp = {"SM": sm_emp or 0.25, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}
    directions = {1: "N", 2: "S"} if configured else None
    a = agg(
        lanes=(1, 2),
        grace_s=0.3,
        interval_s=1,
        directions=directions,
        emp=emp,
        detection_zone_m=1.5,
        capacity={1: 800.0},
        segment_capacity=1600.0,
    )
    start = T0 + 1_000
    out = a.tick(T0 + 400)
    fed = []
    for offset, (lane, direction), cls, speed, length in sorted(vehicles):
        record = veh(start + offset, lane, speed / 10, cls, length / 10, direction)
        out += a.feed(record)
        if lane != 3:
            fed.append(record)
    out += a.tick(start + 8_000)
    starts = [start + k * 1_000 for k in range(7)]

    def dense(interval: int) -> set[tuple[int, str]]:
        if configured:
            return {(1, "N"), (2, "S")}
        # learned: the direction of a lane's first record, once it has been fed (fed before
        # the interval closed, i.e. at or before interval end + grace)
        first: dict[int, tuple[int, str]] = {}
        for r in fed:
            first.setdefault(r.lane, (r.time_ms, r.direction))
        return {(lane, d) for lane, (t, d) in first.items() if t < interval + 1_300}

    truth = [
        {
            "time": r.time_ms,
            "lane": r.lane,
            "direction": r.direction,
            "speed": r.speed_kmh,
            "length": r.length_m,
            "vehicle_class": r.vehicle_class,
        }
        for r in fed
    ]
    params = Params(interval_s=1, emp=emp, zone_m=1.5, capacity={1: 800.0}, segment_capacity=1600.0)
    expected = expected_readings(truth, starts, dense, params)
    got = {(r.measurement, tuple(sorted(r.tags.items())), r.time): r.fields for r in out}
    assert len(got) == len(out)  # no point published twice
    assert got == expected
    assert a.stats.unknown_lanes.get(3, 0) == sum(1 for v in vehicles if v[1][0] == 3)
    # and forwarding the same records gives one point per vehicle
    f = RecordForwarder("cnt1")
    forwarded = [f.feed(r) for r in fed]
    assert [(tuple(r.tags.values()), r.time) for r in forwarded] == forwarded_times(truth)
    assert [asdict(r)["speed_kmh"] for r in fed] == [r.fields["speed"] for r in forwarded]
