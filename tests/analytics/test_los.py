"""analytics.los: every band edge of PM 96/2015 (speed, delay) and of the KM 14/2006 V/C view
(tests/analytics/cases/los.csv), minimum LOS by road function, and band tables that refuse
to be built out of order."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import los

CASES = Path(__file__).parent / "cases"
with open(CASES / "los.csv", newline="") as _f:
    LOS_ROWS = list(csv.DictReader(line for line in _f if not line.startswith("#")))

VIEWS = {
    "speed_antarkota": lambda v: los.los_by_speed(v, "antarkota"),
    "speed_perkotaan": lambda v: los.los_by_speed(v, "perkotaan"),
    "delay": los.los_by_delay,
    "vc": los.los_by_vc,
}


@pytest.mark.parametrize("row", LOS_ROWS, ids=[f"{r['view']}-{r['value']}" for r in LOS_ROWS])
def test_band_edge(row: dict[str, str]) -> None:
    assert VIEWS[row["view"]](float(row["value"])) == row["letter"]


def test_every_letter_of_every_view_is_in_the_golden_file() -> None:
    for view in VIEWS:
        assert {r["letter"] for r in LOS_ROWS if r["view"] == view} == set(los.LETTERS)


def test_the_simulators_v_c_function_is_the_v_c_view() -> None:
    assert [los.los_by_vc(x) for x in (0.2, 0.45, 0.7, 0.85, 1.0, 1.01)] == list("ABCDEF")


def test_refusals_name_the_view_and_value() -> None:
    with pytest.raises(ValueError, match=r"V/C, KM 14/2006 -0.1 is negative"):
        los.los_by_vc(-0.1)
    with pytest.raises(ValueError, match=r"area 'desa': use one of \['antarkota', 'perkotaan'\]"):
        los.los_by_speed(40, "desa")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"delay \(s/veh\), PM 96/2015 nan is not a finite"):
        los.los_by_delay(float("nan"))


def test_custom_bands_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match=r"site V/C: bounds must rise from A on, got \[0.5, 0.3\]"):
        los.LosBands("site V/C", (("A", 0.5), ("B", 0.3)), "lower")
    with pytest.raises(ValueError, match=r"speed: bounds must fall"):
        los.LosBands("speed", (("A", 50.0), ("B", 60.0)), "higher")
    with pytest.raises(ValueError, match=r"letters must be distinct"):
        los.LosBands("x", (("A", 0.5), ("A", 0.6)), "lower")
    site = los.LosBands("site V/C", (("A", 0.6), ("B", 0.7), ("C", 0.8)), "lower", beyond="D")
    assert [los.los_by_vc(x, site) for x in (0.6, 0.61, 0.8, 0.81)] == ["A", "B", "C", "D"]
    assert site.upper("B") == 0.7 and site.upper("D") is None


def test_minimum_los_by_road_function() -> None:
    assert los.meets_minimum("B", "arteri_primer")
    assert not los.meets_minimum("C", "arteri_primer")
    assert los.meets_minimum("C", "lokal_primer") and not los.meets_minimum("D", "lokal_primer")
    assert los.meets_minimum("C", "kolektor_sekunder")
    assert los.meets_minimum("D", "lingkungan") and not los.meets_minimum("E", "lokal_sekunder")
    with pytest.raises(ValueError, match="road function 'tol'"):
        los.meets_minimum("A", "tol")


@given(st.floats(min_value=0, max_value=300), st.floats(min_value=0, max_value=300))
def test_letters_never_improve_as_things_get_worse(a: float, b: float) -> None:
    low, high = sorted((a, b))
    order = los.LETTERS.index
    assert order(los.los_by_vc(low / 100)) <= order(los.los_by_vc(high / 100))
    assert order(los.los_by_delay(low)) <= order(los.los_by_delay(high))
    for area in ("antarkota", "perkotaan"):
        assert order(los.los_by_speed(high, area)) <= order(los.los_by_speed(low, area))
