"""analytics.flood: every ladder step up and down (tests/analytics/cases/flood.toml), a level
that does not flap on a +/-5 cm oscillation (and does without hysteresis, so the test can
fail), dwell counted in the caller's timestamps, ladders built from site configuration, and
the water level from a distance sensor."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import flood

CASES = tomllib.loads((Path(__file__).parent / "cases" / "flood.toml").read_text())["case"]
LADDERS = {"road": flood.ROAD_DEPTH, "batanghari": flood.BATANGHARI_TANGGO_RAJO}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_ladder_golden_case(case: dict) -> None:
    ladder = LADDERS[case["ladder"]]
    state, changes = flood.track(ladder, [tuple(s) for s in case["samples"]])
    assert [[c.t, c.from_key, c.to_key] for c in changes] == case["changes"]
    assert state.key == case["final"]
    assert all(
        c.up == (ladder.keys.index(c.to_key) > ladder.keys.index(c.from_key)) for c in changes
    )


def test_golden_file_steps_every_level_of_both_ladders_up_and_down() -> None:
    for name, ladder in LADDERS.items():
        ups, downs = set(), set()
        for case in (c for c in CASES if c["ladder"] == name):
            for _, a, b in case["changes"]:
                (ups if ladder.keys.index(b) > ladder.keys.index(a) else downs).add((a, b))
        pairs = list(zip(ladder.keys, ladder.keys[1:], strict=False))
        assert set(pairs) <= ups, name
        assert {(b, a) for a, b in pairs} <= downs, name


def test_default_ladders_as_domain_md_gives_them() -> None:
    road = flood.ROAD_DEPTH
    assert [(s.key, s.threshold) for s in road.steps] == [
        ("hati_hati", 10.0),
        ("bahaya_motor", 20.0),
        ("tidak_dapat_dilalui", 30.0),
    ]
    assert [s.label_id for s in road.steps] == [
        "Hati-hati",
        "Bahaya bagi sepeda motor",
        "Tidak dapat dilalui kendaraan kecil",
    ]
    assert road.unit == "cm" and "project default" in road.source
    river = flood.BATANGHARI_TANGGO_RAJO
    assert [(s.key, s.threshold) for s in river.steps] == [
        ("siaga_3", 13.85),
        ("siaga_2", 14.37),
        ("siaga_1", 14.87),
    ]
    assert river.label("siaga_1") == "Siaga I (bencana)"
    assert river.label("siaga_3", "en") == "Alert level III (watch)"
    assert river.label("normal") == "Normal"


def _oscillation(centre: float, amplitude: float, n: int = 40) -> list[tuple[float, float]]:
    return [(i * 30.0, centre + (amplitude if i % 2 == 0 else -amplitude)) for i in range(n)]


@pytest.mark.parametrize("threshold", [10.0, 20.0, 30.0])
def test_plus_minus_5_cm_at_a_threshold_raises_once_and_never_flaps(threshold: float) -> None:
    state, changes = flood.track(flood.ROAD_DEPTH, _oscillation(threshold, 5.0))
    assert len(changes) == 1 and changes[0].up
    assert state.key == flood.ROAD_DEPTH.key_of(threshold)


def test_without_hysteresis_the_same_oscillation_flaps() -> None:
    bare = dataclasses.replace(flood.ROAD_DEPTH, hysteresis=0.0)
    _, changes = flood.track(bare, _oscillation(20.0, 5.0))
    assert len(changes) == 40


def test_raise_dwell_counts_caller_time_and_restarts_when_the_value_dips() -> None:
    ladder = dataclasses.replace(flood.ROAD_DEPTH, raise_dwell_s=60.0)
    samples = [(0, 12.0), (30, 12.0), (50, 8.0), (60, 12.0), (100, 12.0), (120, 12.0)]
    state, changes = flood.track(ladder, samples)
    assert [(c.t, c.to_key) for c in changes] == [(120.0, "hati_hati")]
    assert state.key == "hati_hati"


def test_clear_dwell_holds_a_level_through_a_short_dip() -> None:
    ladder = dataclasses.replace(flood.ROAD_DEPTH, clear_dwell_s=300.0)
    samples = [(0, 22.0), (60, 3.0), (120, 22.0), (180, 3.0), (400, 3.0), (480, 3.0)]
    _, changes = flood.track(ladder, samples)
    assert [(c.t, c.from_key, c.to_key) for c in changes] == [
        (0.0, "normal", "bahaya_motor"),
        (480.0, "bahaya_motor", "normal"),
    ]


def test_time_going_backwards_is_refused() -> None:
    state = flood.update(flood.ROAD_DEPTH, flood.start(flood.ROAD_DEPTH), 100.0, 5.0)
    with pytest.raises(ValueError, match=r"genangan jalan: time 99.0 is before .* 100.0"):
        flood.update(flood.ROAD_DEPTH, state, 99.0, 5.0)


def test_start_after_a_restart_takes_the_level_of_the_value() -> None:
    state = flood.start(flood.ROAD_DEPTH, 24.0)
    assert state.key == "bahaya_motor"
    assert flood.update(flood.ROAD_DEPTH, state, 0.0, 16.0).key == "bahaya_motor"


def test_ladder_from_the_simulators_levels() -> None:
    ladder = flood.ladder_from_levels(
        "Jl. Tepian", {"awas": 30.0, "waspada": 10.0, "siaga": 20.0}, "cm", hysteresis=2.0
    )
    assert ladder.keys == ("normal", "waspada", "siaga", "awas")
    assert ladder.label("awas") == "Awas" and ladder.hysteresis == 2.0
    own = flood.ladder_from_levels("x", {"banjir": 50}, "cm", {"banjir": ("Banjir", "Flood")})
    assert own.label("banjir", "en") == "Flood"


@pytest.mark.parametrize(
    ("levels", "options", "message"),
    [
        ({"a": 10, "b": 10}, {}, r"ladder 's': thresholds \(a=10.0, b=10.0\) .* must rise"),
        ({"Siaga": 10}, {}, r"ladder 's': level key 'Siaga' must be lower-case"),
        ({"normal": 10}, {}, r"ladder 's': level keys must be distinct"),
        ({}, {}, r"ladder 's': give at least one level"),
        ({"a": 10}, {"hysteresis": -1.0}, r"ladder 's': hysteresis -1.0 is negative"),
        ({"a": float("nan")}, {}, r"not a finite number"),
    ],
)
def test_ladder_errors_name_ladder_key_and_value(levels: dict, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        flood.ladder_from_levels("s", levels, "cm", **options)


def test_water_level_from_a_distance_sensor() -> None:
    assert flood.water_level(300.0, 280.0) == 20.0  # 3 m above the road, water 20 cm deep
    assert flood.water_level(300.0, 340.0) == -40.0  # below the road surface
    assert flood.water_level(16.20, 2.05) == pytest.approx(14.15)  # river gauge, m
    with pytest.raises(ValueError, match=r"^distance -1\.0 is negative$"):
        flood.water_level(300.0, -1.0)


values = st.floats(min_value=-50, max_value=80, allow_nan=False)


@given(st.lists(values, min_size=1, max_size=50))
def test_without_hysteresis_or_dwell_the_level_is_the_threshold_level(xs: list[float]) -> None:
    bare = dataclasses.replace(flood.ROAD_DEPTH, hysteresis=0.0)
    state = flood.start(bare)
    for i, x in enumerate(xs):
        state = flood.update(bare, state, float(i), x)
        assert state.level == bare.level_of(x)


@given(st.lists(values, min_size=1, max_size=50), st.floats(min_value=0, max_value=15))
def test_hysteresis_level_is_between_the_raw_levels_and_levels_stay_nested(
    xs: list[float], h: float
) -> None:
    ladder = dataclasses.replace(flood.ROAD_DEPTH, hysteresis=h)
    state = flood.start(ladder)
    for i, x in enumerate(xs):
        state = flood.update(ladder, state, float(i), x)
        assert ladder.level_of(x) <= state.level <= ladder.level_of(x + h)
        actives = [s.active for s in state.steps]
        assert actives == sorted(actives, reverse=True)  # a raised level has all below raised


def test_road_status_names_the_alert_ladder_on_road_depth_thresholds() -> None:
    status = flood.ROAD_STATUS
    assert status.keys == ("normal", "waspada", "siaga", "awas")
    assert [s.threshold for s in status.steps] == [s.threshold for s in flood.ROAD_DEPTH.steps]
    assert [status.key_of(v) for v in (-3.0, 9.9, 10.0, 25.0, 30.0)] == [
        "normal",
        "normal",
        "waspada",
        "siaga",
        "awas",
    ]
    assert status.label("awas") == "Awas" and status.label("awas", "en") == "Warning"
