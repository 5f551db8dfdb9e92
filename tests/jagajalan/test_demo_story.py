"""The demo's default data tells its story within the demo's first five minutes: at least one
flood status crossing and one ISPU category change.

Same path as the demo: the demo's default scenario (the file `jagajalan demo` loads), the
scenario engine feeding the emulated cabinet of a demo site through the value hooks, and the
real gateway drivers reading it over pseudo-terminals; readings are labelled with the
functions `GET /conditions` uses. Only the clock runs faster than the demo's (the same
ScenarioClock at a multiple of the file's speed, which is the speed the demo runs), and every
reading is mapped back to the demo's own time: seconds since the demo started.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from api.routes.conditions import air, water
from jagajalan.demo import DEFAULT_SCENARIO
from simulators.scenario.engine import Scenario
from store import LatestValue
from testkit.cabinet import Cabinet

FASTER = 5  # the test's clock runs this many times the demo's
DEMO_MINUTES = 5


def test_first_five_demo_minutes_cross_a_flood_level_and_an_ispu_category(
    tmp_path: Path,
) -> None:
    scenario = Scenario.load(DEFAULT_SCENARIO)
    # The demo plays its scenario at the file's speed: the devices get no --speed.
    assert scenario.speed == 240
    gateway = next(iter(scenario.sites))  # the demo's first site: srl-pasar-01
    demo_seconds = DEMO_MINUTES * 60
    budget = demo_seconds / FASTER  # real seconds of the test
    with Cabinet(
        tmp_path,
        scenario=scenario,
        speed=scenario.speed * FASTER,
        only=["env1", "wl1"],
        gateway=gateway,
        poll_interval=0.25,
    ) as cab:
        clock = cab.clock

        def demo_time(ms: int) -> float:
            """Seconds since the demo started, had this reading come from the demo."""
            return (clock.scenario_time(ms / 1000) - scenario.start) / scenario.speed

        statuses: list[tuple[float, str]] = []
        categories: list[tuple[float, str]] = []

        def labelled() -> None:
            statuses.clear()
            categories.clear()
            for r in list(cab.readings["wl1"]):
                level = r.fields["level"]
                v = LatestValue(gateway, "wl1", "water_level", {}, "level", level, r.time)
                statuses.append((demo_time(r.time), water([v]).status))
            for r in list(cab.readings["env1"]):
                pm25 = r.fields["pm25"]
                v = LatestValue(gateway, "env1", "air_quality", {}, "pm25", pm25, r.time)
                categories.append((demo_time(r.time), air([v]).category))

        def changes(series: list[tuple[float, str]]) -> list[tuple[float, str, str]]:
            return [
                (t, a, b)
                for (_, a), (t, b) in itertools.pairwise(series)
                if a != b and t <= demo_seconds
            ]

        deadline = time.monotonic() + budget + 10
        while time.monotonic() < deadline:
            labelled()
            flood = [c for c in changes(statuses) if c[1] == "normal"]
            ispu = changes(categories)
            if flood and ispu:
                break
            if statuses and statuses[-1][0] > demo_seconds:
                break
            time.sleep(0.5)
    labelled()
    flood = [c for c in changes(statuses) if c[1] == "normal"]
    ispu = changes(categories)
    assert statuses and categories, "no readings from the emulated cabinet"
    assert flood, f"no flood status crossing in {DEMO_MINUTES} demo minutes: {statuses[-5:]}"
    assert ispu, f"no ISPU category change in {DEMO_MINUTES} demo minutes: {categories[-5:]}"
    t, before, after = flood[0]
    assert (before, after) == ("normal", "waspada") and t < demo_seconds
    t, before, after = ispu[0]
    assert t < demo_seconds and before != after
