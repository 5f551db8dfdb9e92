"""Golden tests of the indicators' windowing and arithmetic (indicators/compute.py): pure,
points in, points out."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.traffic import speed_p85
from indicators import compute
from indicators.config import IndicatorsConfig
from telemetry.mapping import Point

H = 3_600_000
MIN = 60_000
#: 2025-11-30T00:00:00Z, a UTC midnight (07:00 WIB).
T0 = 1_764_460_800_000


def air(t: int, pm25: float, pm10: float | None = None, gw: str = "gw-a") -> Point:
    fields = {"pm25": pm25} if pm10 is None else {"pm25": pm25, "pm10": pm10}
    return Point("air_quality", {"gateway": gw, "sensor": "env1"}, fields, t)


def level(t: int, cm: float) -> Point:
    return Point("water_level", {"gateway": "gw-a", "sensor": "lvl1"}, {"level": cm}, t)


def test_every_value_is_a_plain_python_number_or_string() -> None:
    """numpy scalars would not encode as line protocol; the store takes int, float, str."""
    readings = [air(T0, 12.0, 30.0), level(T0, 12.0)]
    flows = [counted(T0 + m * MIN, "KR", 5, 42.5) for m in range(15)]
    points = compute.ispu_hourly(readings, IndicatorsConfig(), T0, T0 + H)
    points += compute.traffic(flows, [], [], IndicatorsConfig(), T0, T0 + H)
    points += compute.flood_status(readings, IndicatorsConfig(), T0, T0 + H)
    assert {p.measurement for p in points} == set(compute.MEASUREMENTS)
    for p in points:
        assert type(p.time_ms) is int
        for name, value in p.fields.items():
            assert type(value) in (int, float, str), (p.measurement, name, type(value))


# -- ISPU -------------------------------------------------------------------------------------
def test_ispu_hours_start_on_utc_hours_and_split_at_the_boundary() -> None:
    readings = [
        air(T0, 15.5),  # 00:00:00.000 belongs to hour 00
        air(T0 + H - 1, 15.5),  # 00:59:59.999 too
        air(T0 + H, 55.4),  # 01:00:00.000 starts hour 01
        air(T0 + 2 * H - 1, 55.4),
    ]
    points = compute.ispu_hourly(readings, IndicatorsConfig(), T0, T0 + 2 * H)
    assert [p.time_ms for p in points] == [T0, T0 + H]
    first, second = (p.fields for p in points)
    # Breakpoints of P.14/2020: 15.5 µg/m³ is ISPU 50 (Baik's top), 55.4 is 100 (Sedang's).
    assert (first["ispu"], first["category"], first["samples"]) == (50.0, "baik", 2)
    assert (second["ispu"], second["category"], second["category_code"]) == (100.0, "sedang", 1)
    assert second["colour"] == "#0000cc" and second["dominant"] == "pm25"
    assert points[0].measurement == "jagajalan_ispu_hourly"
    assert points[0].tags == {"gateway": "gw-a", "sensor": "env1"}


def test_ispu_hourly_mean_every_breakpoint_and_the_dominant_parameter() -> None:
    # One hour per breakpoint of PM2.5 (the hour's mean lands exactly on it), PM10 low.
    golden = [(15.5, 50.0, "baik"), (55.4, 100.0, "sedang"), (150.4, 200.0, "tidak_sehat")]
    golden += [(250.4, 300.0, "sangat_tidak_sehat"), (500.0, 500.0, "berbahaya")]
    readings = []
    for i, (x, _, _) in enumerate(golden):
        readings += [air(T0 + i * H + 10 * MIN, x - 5, 20.0), air(T0 + i * H + 40 * MIN, x + 5)]
    points = compute.ispu_hourly(readings, IndicatorsConfig(), T0, T0 + 5 * H)
    for p, (x, index, key) in zip(points, golden, strict=True):
        assert (p.fields["pm25"], p.fields["ispu"], p.fields["category"]) == (x, index, key)
        assert p.fields["pm10_index"] == 20.0  # 20 µg/m³ of PM10: 20 / 50 * 50
        assert p.fields["dominant"] == "pm25"
    # PM10 dominates when its sub-index is the higher one.
    dominant = compute.ispu_hourly([air(T0, 5.0, 150.0)], IndicatorsConfig(), T0, T0 + H)
    assert (dominant[0].fields["dominant"], dominant[0].fields["ispu"]) == ("pm10", 100.0)


def test_averaging_hours_average_the_hour_and_the_ones_before() -> None:
    config = IndicatorsConfig.model_validate({"ispu": {"averaging_hours": 3}})
    readings = [air(T0, 10.0), air(T0 + H, 20.0), air(T0 + 2 * H, 60.0), air(T0 + 3 * H, 90.0)]
    points = compute.ispu_hourly(readings, config, T0 + 2 * H, T0 + 4 * H)
    assert [p.time_ms for p in points] == [T0 + 2 * H, T0 + 3 * H]
    assert [p.fields["pm25"] for p in points] == [30.0, round(170 / 3, 2)]
    assert all(p.fields["indicative"] == 1 and p.fields["averaging_hours"] == 3 for p in points)
    # The reads cover the hours before the range.
    assert compute.reads(config, T0 + 2 * H, T0 + 4 * H)["air_quality"] == (T0, T0 + 4 * H)
    daily = IndicatorsConfig.model_validate({"ispu": {"averaging_hours": 24}})
    assert compute.ispu_hourly(readings, daily, T0, T0 + H)[0].fields["indicative"] == 0


def test_hours_without_readings_and_outside_the_range_give_no_point() -> None:
    readings = [air(T0 - 1, 30.0), air(T0 + 2 * H, 30.0), air(T0 + 5 * H, 30.0)]
    points = compute.ispu_hourly(readings, IndicatorsConfig(), T0, T0 + 5 * H)
    assert [p.time_ms for p in points] == [T0 + 2 * H]


# -- traffic ----------------------------------------------------------------------------------
def counted(t: int, cls: str, n: int, speed: float = 50.0, sensor: str = "cnt1") -> Point:
    tags = {"gateway": "gw-a", "sensor": sensor, "lane": "1", "direction": "in"}
    tags["vehicle_class"] = cls
    return Point("traffic", tags, {"count": n, "speed_mean": speed}, t)


def test_traffic_flow_saturation_and_los_of_one_interval() -> None:
    readings = []
    for minute in range(15):  # one 15-minute interval of 1-minute summaries
        t = T0 + minute * MIN
        readings += [counted(t, "KR", 20), counted(t, "SM", 40, 30.0), counted(t, "KS", 3)]
    points = compute.traffic(readings, [], [], IndicatorsConfig(), T0, T0 + H)
    assert len(points) == 1 and points[0].time_ms == T0
    f = points[0].fields
    # 945 vehicles in 15 min = 3780 veh/h >= 1800 on 2/2-TT, 7 m wide: KS 1.2, SM 0.25, MP 1.
    # (300 * 1 + 600 * 0.25 + 45 * 1.2) * 4 = 2016 smp/jam; C0 2800; DJ 0.72: V/C band D.
    assert (f["vehicles"], f["flow_smp"], f["capacity"]) == (945, 2016.0, 2800.0)
    assert (f["degree_of_saturation"], f["los"]) == (0.72, "D")
    # Count-weighted mean speed: (345 * 50 + 600 * 30) / 945 = 37.3 km/h: E antarkota.
    assert (f["speed_mean"], f["los_speed"]) == (37.3, "E")
    assert "speed_p85" not in f  # no per-vehicle records


def test_traffic_site_capacity_zero_intervals_and_unknown_classes() -> None:
    config = IndicatorsConfig.model_validate({"sites": [{"gateway": "gw-a", "capacity": 1000}]})
    flow = Point("traffic_flow", {"gateway": "gw-a", "sensor": "cnt1"}, {"count": 0}, T0)
    readings = [counted(T0 + 15 * MIN, "KR", 100), counted(T0 + 15 * MIN, "UFO", 7)]
    points = compute.traffic(readings, [flow], [], config, T0, T0 + H)
    zero, busy = (p.fields for p in points)
    assert (zero["vehicles"], zero["flow_smp"], zero["los"]) == (0, 0.0, "A")
    assert "speed_mean" not in zero
    # 100 KR in 15 min = 400 smp/jam against the site's 1000: DJ 0.4, band B.
    assert (busy["flow_smp"], busy["degree_of_saturation"], busy["los"]) == (400.0, 0.4, "B")
    assert busy["unclassified"] == 7


def test_p85_from_vehicle_records_is_the_nearest_rank_of_analytics() -> None:
    rng = random.Random(4)
    for n in (1, 2, 7, 20, 101):
        speeds = [round(rng.uniform(10, 90), 1) for _ in range(n)]
        assert compute.p85(np.array(speeds)) == speed_p85(speeds)
    tags = {"gateway": "gw-a", "sensor": "cnt1", "lane": "1", "direction": "in"}
    vehicles = [
        Point(
            "vehicle", {**tags, "vehicle_class": "KR"}, {"speed": float(s), "length": 4.0}, T0 + s
        )
        for s in range(1, 21)
    ]
    points = compute.traffic([counted(T0, "KR", 20)], [], vehicles, IndicatorsConfig(), T0, T0 + H)
    assert points[0].fields["speed_p85"] == 17.0  # rank ceil(0.85 * 20) = 17 of 1..20


# -- flood ------------------------------------------------------------------------------------
def levels_of(points: list[Point]) -> list[str]:
    return [p.fields["level"] for p in points]


def transitions(keys: list[str]) -> int:
    return sum(1 for a, b in itertools.pairwise(keys) if a != b)


def bouncing() -> list[Point]:
    """An hour at 15 cm (hati-hati), then two hours bouncing across the 20 cm threshold."""
    out = [level(T0 + m * MIN, 15.0) for m in range(60)]
    out += [level(T0 + H + m * MIN, 20.5 if m % 2 else 19.5) for m in range(120)]
    return out


def test_a_level_bouncing_at_a_threshold_gives_one_transition() -> None:
    points = compute.flood_status(bouncing(), IndicatorsConfig(), T0, T0 + 3 * H)
    keys = levels_of(points)
    assert len(points) == 36  # 5-minute windows over 3 hours
    assert keys[:12] == ["hati_hati"] * 12 and keys[12:] == ["bahaya_motor"] * 24
    assert transitions(keys) == 1
    assert points[12].fields["transitions"] == 1 and points[13].fields["transitions"] == 0
    # Without hysteresis the same readings flap at every window.
    flat = IndicatorsConfig.model_validate({"flood": {"hysteresis": 0}})
    flapping = compute.flood_status(bouncing(), flat, T0, T0 + 3 * H)
    assert transitions(levels_of(flapping)) > 10


def test_flood_status_depends_on_the_readings_only() -> None:
    """Windows computed in pieces, in any order, equal the whole: no state between runs."""
    config = IndicatorsConfig()
    whole = compute.flood_status(bouncing(), config, T0, T0 + 3 * H)
    pieces = []
    for start in (2 * H, H + 35 * MIN, 0):
        end = {2 * H: 3 * H, H + 35 * MIN: 2 * H, 0: H + 35 * MIN}[start]
        pieces += compute.flood_status(bouncing(), config, T0 + start, T0 + end)
    assert sorted(pieces, key=lambda p: p.time_ms) == whole


def test_a_site_ladder_from_the_config() -> None:
    config = IndicatorsConfig.model_validate(
        {"sites": [{"gateway": "gw-a", "flood_levels": {"siaga_3": 50, "siaga_2": 80}}]}
    )
    points = compute.flood_status([level(T0, 60.0), level(T0 + 6 * MIN, 85.0)], config, T0, T0 + H)
    assert [(p.fields["level"], p.fields["level_code"]) for p in points] == [
        ("siaga_3", 1),
        ("siaga_2", 2),
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"traffic": {"interval_s": 700}}, "traffic.interval_s"),
        ({"flood": {"interval_s": 2880}}, "flood.interval_s"),  # divides a day, not an hour
        ({"traffic": {"road_type": "9/9"}}, "traffic.road_type"),
        ({"traffic": {"vc_bands": [0.2, 0.1, 0.7, 0.85, 1.0]}}, "traffic.vc_bands"),
        ({"flood": {"levels": {"a": 20, "b": 20}}}, "flood"),
        ({"sites": [{"gateway": "GW A"}]}, "sites[0].gateway"),
        ({"sites": [{"gateway": "gw-a"}, {"gateway": "gw-a"}]}, "(top level)"),
        ({"ispu": {"averaging_hours": 0}}, "ispu.averaging_hours"),
    ],
)
def test_config_mistakes_name_the_key(tmp_path, data: dict, key: str) -> None:

    from kernel.config import ConfigError, validate

    with pytest.raises(ConfigError) as caught:
        validate(IndicatorsConfig, data, tmp_path / "analytics.toml")
    keys = [k for k, _, _ in caught.value.problems]
    assert key in keys, caught.value.render()
    assert "analytics.toml" in caught.value.render()


def replayed(config: IndicatorsConfig, points: list[Point], start: int, end: int) -> list[tuple]:
    """The definition, slowly: each window replays its warm-up with analytics.flood.track."""
    from analytics import flood

    ladder, step = config.ladder("gw-a"), config.flood.interval_s * 1000
    warm = config.flood.warmup_s * 1000
    pts = sorted(points, key=lambda p: p.time_ms)
    out = []
    for w in sorted({p.time_ms - p.time_ms % step for p in pts}):
        if not start <= w < end:
            continue
        horizon = [p for p in pts if w + step - warm <= p.time_ms < w + step]
        state, changes = flood.track(
            ladder, [(p.time_ms / 1000, p.fields["level"]) for p in horizon]
        )
        inside = [c for c in changes if c.t * 1000 >= w]
        out.append((w, state.key, state.level, len(inside)))
    return out


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=120),
    gaps=st.lists(st.integers(0, 7), min_size=120, max_size=120),
    hysteresis=st.sampled_from([0.0, 1.0, 5.0]),
    warmup=st.sampled_from([0, 600, 1800, 10_800]),
    interval=st.sampled_from([60, 300, 900]),
)
def test_the_vectorised_flood_status_is_the_replay(
    values: list[float], gaps: list[int], hysteresis: float, warmup: int, interval: int
) -> None:
    config = IndicatorsConfig.model_validate(
        {"flood": {"hysteresis": hysteresis, "warmup_s": warmup, "interval_s": interval}}
    )
    t, points = T0, []
    for value, gap in zip(values, gaps, strict=False):
        t += gap * 45_000  # irregular times, repeated times included
        points.append(level(t, value))
    got = compute.flood_status(points, config, T0, t + 1)
    want = replayed(config, points, T0, t + 1)
    assert [
        (p.time_ms, p.fields["level"], p.fields["level_code"], p.fields["transitions"]) for p in got
    ] == want
