"""The statistics of one interval (gateway/devices/traffic_counter/summary.py), against
hand-computed values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.traffic_counter.protocol import VehicleRecord
from gateway.devices.traffic_counter.summary import (
    DEFAULT_EMP,
    EMP_SM_UNDIVIDED,
    SummaryConfig,
    degree_of_saturation,
    emp_factors,
    headway_mean,
    interval_readings,
    occupancy,
    pcu_flow,
    percentile_nearest_rank,
    speed_mean,
)
from testkit.traffic_reference import p85 as reference_p85

T0 = 1_796_025_600_000


def test_p85_nearest_rank_hand_examples() -> None:
    speeds = [50, 30, 45, 32, 35, 38, 40, 41, 42, 60]  # sorted: 30 32 35 38 40 41 42 45 50 60
    assert percentile_nearest_rank(speeds, 85) == 50  # rank ceil(8.5) = 9
    assert percentile_nearest_rank(range(1, 21), 85) == 17  # rank exactly 17 (no float trap)
    assert percentile_nearest_rank(range(1, 8), 85) == 6  # rank ceil(5.95) = 6
    assert percentile_nearest_rank([42.5], 85) == 42.5  # one vehicle: its speed
    assert percentile_nearest_rank([40, 60], 85) == 60  # rank ceil(1.7) = 2
    assert percentile_nearest_rank(range(1, 101), 85) == 85
    assert percentile_nearest_rank(range(1, 101), 100) == 100
    with pytest.raises(ValueError):
        percentile_nearest_rank([], 85)


@given(st.lists(st.integers(0, 3000).map(lambda t: t / 10), min_size=1, max_size=300))
def test_p85_is_a_measured_speed_with_85_percent_at_or_below(speeds: list[float]) -> None:
    value = percentile_nearest_rank(speeds, 85)
    assert value in speeds
    assert value == reference_p85(speeds)
    at_or_below = sum(1 for s in speeds if s <= value)
    below = sum(1 for s in speeds if s < value)
    assert at_or_below >= 0.85 * len(speeds) > below  # the nearest-rank definition


def test_speed_mean_rounds_to_hundredths() -> None:
    assert speed_mean([40.1, 40.2, 40.2]) == 40.17
    assert speed_mean([0.1] * 10) == 0.1


def test_pcu_flow_with_the_default_emp_factors() -> None:
    counts = {"SM": 10, "KR": 4, "KS": 1, "BB": 0, "TB": 2}
    # per minute: 10 * 0.25 + 4 * 1.0 + 1 * 1.3 + 2 * 1.3 = 10.4 pcu -> 624 pcu/h
    assert pcu_flow(counts, DEFAULT_EMP, 60) == 624.0
    assert pcu_flow(counts, DEFAULT_EMP, 300) == 124.8  # same vehicles in 5 minutes
    assert pcu_flow({}, DEFAULT_EMP, 60) == 0.0
    assert pcu_flow({"KS": 3}, DEFAULT_EMP, 60) == 234.0  # 3 * 1.3 * 60, no 233.99999


def test_pcu_flow_on_an_undivided_two_lane_road() -> None:
    emp = emp_factors(("SM", "KR", "KS", "BB", "TB"), road_type="2/2UD")
    assert emp == {"SM": 0.4, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}
    assert EMP_SM_UNDIVIDED == 0.4
    # 10 * 0.4 + 4 + 1.3 + 2.6 = 11.9 pcu per minute
    assert pcu_flow({"SM": 10, "KR": 4, "KS": 1, "TB": 2}, emp, 60) == 714.0


def test_emp_overrides_and_custom_classes() -> None:
    assert emp_factors(["SM", "KR"], {"SM": 0.3}, road_type="2/2UD") == {"SM": 0.3, "KR": 1.0}
    assert emp_factors(["SM", "UM"], {"UM": 0.8}) == {"SM": 0.25, "UM": 0.8}
    with pytest.raises(ValueError, match=r"no emp factor for vehicle class 'UM'; give emp\.UM"):
        emp_factors(["SM", "UM"])


def test_degree_of_saturation() -> None:
    assert degree_of_saturation(624.0, 1200.0) == 0.52
    assert degree_of_saturation(2900.0, 2900.0) == 1.0
    assert degree_of_saturation(3190.0, 2900.0) == 1.1  # above capacity is reported as is


def veh(ms: int, speed: float, length: float) -> VehicleRecord:
    return VehicleRecord(T0 + ms, 1, "N", speed, length, "KR")


def test_occupancy_formula() -> None:
    # (4.0 + 2.0) m at 36 km/h = 10 m/s -> 0.6 s; (2.0 + 2.0) m at 72 km/h -> 0.2 s
    vehicles = [veh(0, 36.0, 4.0), veh(500, 72.0, 2.0)]
    assert occupancy(vehicles, 2.0, 60) == round(0.8 / 60, 4) == 0.0133
    assert occupancy(vehicles, 0.0, 1) == 0.5  # no zone: 0.4 s + 0.1 s in a 1 s interval
    assert occupancy([], 2.0, 60) == 0.0
    assert occupancy([veh(0, 0.0, 4.0)], 2.0, 60) == 1.0  # stopped on the detector


def test_headway_mean() -> None:
    assert headway_mean([T0, T0 + 2_000, T0 + 5_000, T0 + 11_000]) == 3.667  # 11 s / 3 gaps
    assert headway_mean([T0 + 5_000, T0]) == 5.0  # order does not matter
    assert headway_mean([T0]) is None
    assert headway_mean([]) is None


def test_interval_readings_schema_of_a_quiet_and_a_busy_lane() -> None:
    config = SummaryConfig(capacity={1: 1000.0}, segment_capacity=2000.0)
    vehicles = [veh(0, 36.0, 4.0), veh(500, 72.0, 2.0)]
    out = interval_readings("cnt1", T0, 60, vehicles, [(1, "N"), (2, "S")], config)
    assert [(r.measurement, r.tags) for r in out] == [
        ("traffic_flow", {"lane": "1", "direction": "N"}),
        ("traffic", {"lane": "1", "direction": "N", "vehicle_class": "KR"}),
        ("traffic_flow", {"lane": "2", "direction": "S"}),
        ("traffic_segment", {}),
    ]
    assert out[0].fields == {
        "count": 2,
        "pcu_flow": 120.0,
        "occupancy": 0.0133,
        "degree_of_saturation": 0.12,
        "speed_mean": 54.0,
        "speed_p85": 72.0,
        "headway_mean": 0.5,
    }
    assert out[2].fields == {"count": 0, "pcu_flow": 0.0, "occupancy": 0.0}
    assert out[3].fields == {"count": 2, "pcu_flow": 120.0, "degree_of_saturation": 0.06}
    assert {r.time for r in out} == {T0}
