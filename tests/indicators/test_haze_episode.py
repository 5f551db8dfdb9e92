"""The simulators' haze_episode through the indicators job: the hourly ISPU category crosses
each category when the scenario file says PM2.5 does (its ``[[expect]]`` ground truth).

The scenario's readings (what the air-quality sensor reports every 10 scenario minutes,
:meth:`Scenario.readings`) are written as ingest writes a gateway's batches, into SQLite;
`jagajalan analytics backfill` computes the week; the test finds each crossing in the hourly
points. Tolerance: the file's (30 min for the haze) plus one hour, the indicator's window.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from analytics import ispu
from jagajalan.cli import main
from simulators.scenario.engine import Scenario
from store.sqlite import SQLiteStore
from telemetry.mapping import batch_to_points
from telemetry.models import Batch, Reading

STEP = 600  # seconds between readings, as the scenario's own step


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _crossing(hours: list[tuple[float, int]], rank: int, direction: str) -> float | None:
    """First hour at or above *rank* after one below (up); the hour it was left for good."""
    states = [(t, r >= rank) for t, r in hours]
    if direction == "up":
        return next((t for (_, a), (t, b) in itertools.pairwise(states) if b and not a), None)
    left = [t for (_, a), (t, b) in itertools.pairwise(states) if a and not b]
    return left[-1] if left and not states[-1][1] else None


def test_hourly_ispu_crosses_each_category_when_the_scenario_says(tmp_path: Path) -> None:
    sc = Scenario.load("haze_episode")
    expects = [e for e in sc.file.expect if e.signal == "pm25"]
    sites = sorted({e.site for e in expects})
    db = tmp_path / "store.sqlite"
    store = SQLiteStore(db)
    store.ensure()
    try:
        for seq, site in enumerate(sites):
            rows = []
            for k in range(int(sc.duration // STEP) + 1):
                t = sc.start + k * STEP
                (air,) = [v for v in sc.readings(site, t) if v.measurement == "air_quality"]
                rows.append(
                    Reading(
                        sensor=air.sensor,
                        measurement="air_quality",
                        time=round(t * 1000),
                        fields=air.fields,
                    )
                )
            for i in range(0, len(rows), 500):
                batch = Batch(
                    gateway=site, seq=seq * 100 + i, sent=rows[i].time, readings=rows[i : i + 500]
                )
                store.write(batch_to_points(batch))
        args = [
            "analytics",
            "backfill",
            "--sqlite",
            str(db),
            "--start",
            _iso(sc.start),
            "--end",
            _iso(sc.end + 3600),
        ]
        assert main(args) == 0
        points = store.points("jagajalan_ispu_hourly")
    finally:
        store.close()
    assert {p.tags["gateway"] for p in points} == set(sites)
    # From about 20 µg/m³ (Sedang) to above 250 (Berbahaya) and back.
    assert {p.fields["category"] for p in points} == set(ispu.CATEGORY_KEYS) - {"baik"}
    for e in expects:
        hours = [
            (p.time_ms / 1000, int(p.fields["category_code"]))
            for p in points
            if p.tags["gateway"] == e.site
        ]
        when = _crossing(hours, ispu.rank(str(e.crosses)), e.direction)
        assert when is not None, f"{e.site}: the hourly ISPU never went {e.direction} {e.crosses}"
        # The hour's point is stamped at its start: a crossing at 21:00 shows in hour 21 (up)
        # or the hour after the last one above (down).
        assert abs(when - (sc.start + e.at)) <= e.tolerance + 3600, (e, when - sc.start)
