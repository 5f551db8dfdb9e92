"""Scenarios cross their thresholds when their own files say so.

The flood and haze scenarios run accelerated on a real clock (two days in about 6 s, a week
in about 8 s) and write ground truth; the test reads the JSONL back and finds each crossing
itself (water level against the site's configured levels, PM2.5 through the ISPU categories
of analytics/ispu.py), then compares with the file's ``[[expect]]`` times. Tolerance: the
file's ``tolerance`` (15 min for the flood, 30 min for the haze); samples are every 5 / 10
scenario minutes, and because sampling follows scenario time, a busy machine delays the run
but never moves a crossing.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from analytics import ispu
from simulators.scenario.config import shipped
from simulators.scenario.engine import Scenario
from simulators.scenario.run import (
    ScenarioRunner,
    check_expectations,
    sample_series,
)
from simulators.truth import TruthWriter, read_truth


def _run_accelerated(name: str, real_seconds: float, path: Path) -> Scenario:
    sc = Scenario.load(name)
    writer = TruthWriter(path)
    runner = ScenarioRunner(sc, clock=sc.clock(speed=sc.duration / real_seconds), truth=writer)
    runner.start()
    assert runner.join(120), "scenario did not finish"
    writer.close()
    assert runner.samples == round(sc.duration / sc.step) + 1
    return sc


def _series(records: list[dict], site: str, signal: str) -> list[tuple[float, float]]:
    return [
        (r["time"] / 1000, r["values"][signal])
        for r in records
        if r["kind"] == "scenario" and r["device"] == site
    ]


def _first(series, reached, direction: str) -> float | None:
    """First time a level is reached (up), or the time it is left for good (down)."""
    states = [(t, reached(v)) for t, v in series]
    if direction == "up":
        return next((t for (_, a), (t, b) in itertools.pairwise(states) if b and not a), None)
    left = [t for (_, a), (t, b) in itertools.pairwise(states) if a and not b]
    return left[-1] if left and not states[-1][1] else None


def test_flood_rises_through_the_configured_levels_on_time(tmp_path: Path) -> None:
    truth = tmp_path / "flood.jsonl"
    sc = _run_accelerated("rainy_season_flood", 6.0, truth)
    records = read_truth(truth)
    expects = [e for e in sc.file.expect if e.signal == "water_level"]
    assert {e.crosses for e in expects} == {"waspada", "siaga", "awas"}
    for e in expects:
        levels = sc.sites[e.site].config.flood.levels
        series = _series(records, e.site, "water_level")
        when = _first(series, lambda v, x=levels[e.crosses]: v >= x, e.direction)
        assert when is not None, f"{e.site} never went {e.direction} through {e.crosses}"
        assert abs(when - (sc.start + e.at)) <= e.tolerance, (e, when - sc.start)
    # The low segment reaches awas; the water does not stay on the road for good.
    tembesi = _series(records, "srl-tembesi-01", "water_level")
    assert max(v for _, v in tembesi) >= 30 and tembesi[-1][1] < 10
    # And small vehicles stay away while the road is flooded.
    flood_t = sc.start + next(e.at for e in expects if e.crosses == "awas")
    assert sc.traffic("srl-tembesi-01", flood_t + 1800).class_flow["SM"] < 5


def test_haze_crosses_the_ispu_categories_on_time(tmp_path: Path) -> None:
    truth = tmp_path / "haze.jsonl"
    sc = _run_accelerated("haze_episode", 8.0, truth)
    records = read_truth(truth)
    expects = [e for e in sc.file.expect if e.signal == "pm25"]
    assert {e.crosses for e in expects} >= {"tidak_sehat", "sangat_tidak_sehat", "berbahaya"}
    for e in expects:
        rank = ispu.rank(str(e.crosses))
        series = _series(records, e.site, "pm25")
        when = _first(
            series,
            lambda v, r=rank: ispu.rank(ispu.category_of("pm25", v).key) >= r,
            e.direction,
        )
        assert when is not None, f"{e.site} pm25 never went {e.direction} through {e.crosses}"
        assert abs(when - (sc.start + e.at)) <= e.tolerance, (e, when - sc.start)
    pasar = [v for _, v in _series(records, "srl-pasar-01", "pm25")]
    assert min(pasar[:36]) < 30 and max(pasar) > 250  # from ~20 to above 250 µg/m³


@pytest.mark.parametrize("name", shipped())
def test_every_expectation_of_every_shipped_scenario(name: str) -> None:
    sc = Scenario.load(name)
    results = check_expectations(sc, sample_series(sc))
    assert results
    for r in results:
        assert r.ok, (r.expect, r.actual and r.actual - sc.start)
