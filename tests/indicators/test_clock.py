"""The job's clocks (indicators/clock.py): ``--clock data`` computes the windows of readings
from the past as their own time advances; ``--clock scenario`` computes a faster-played
scenario's windows (an ISPU hour is 15 s of real time at 240x) and stamps them back in real
time; both end to end through ``jagajalan analytics run`` on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from indicators import job
from indicators.clock import ScenarioStore, ScenarioTime, newest_reading_ms
from indicators.config import IndicatorsConfig
from jagajalan.cli import main
from store.sqlite import SQLiteStore
from telemetry.mapping import batch_to_points
from telemetry.models import Batch, Reading
from testkit import children
from testkit.ingest import wait_for
from tests.indicators.test_job import MIN, T0, H, write_as_ingest

S = 1000


def one_pass(store, reader, now_ms) -> int:  # type: ignore[no-untyped-def]
    stop, passes = threading.Event(), []

    def once(n: int) -> None:
        passes.append(n)
        stop.set()

    job.run(reader, reader, IndicatorsConfig(), 60, 7200, stop, on_pass=once, now_ms=now_ms)
    return passes[0]


def test_data_clock_is_the_newest_reading_and_completes_the_past_windows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    store.ensure()
    assert newest_reading_ms(store) is None  # no readings: no pass (job.run waits)
    write_as_ingest(store)  # 2025-11-30 00:00-02:59Z: long before this machine's now
    assert newest_reading_ms(store) == T0 + 179 * MIN
    # The wall clock's last two hours hold nothing of these readings.
    assert one_pass(store, store, lambda: T0 + 400 * 24 * H) == 0
    assert one_pass(store, store, lambda: newest_reading_ms(store)) > 0
    # 02:59: hours 00 and 01 complete, 02 in progress
    assert [p.time_ms for p in store.points("jagajalan_ispu_hourly")] == [T0, T0 + H]
    assert store.points("jagajalan_flood_status")[-1].time_ms == T0 + 2 * H + 50 * MIN
    store.close()


def scenario_readings(origin_ms: int, speed: float, minutes: int) -> list[Reading]:
    """PM2.5 as a scenario plays it: 10 µg/m³ the first scenario hour, 40 the second, 120
    the third, a reading every 5 scenario minutes, stamped in real time."""
    out = []
    for m in range(0, minutes, 5):
        pm25 = 10.0 if m < 60 else (40.0 if m < 120 else 120.0)
        t = origin_ms + round(m * MIN / speed)
        out.append(Reading(sensor="env1", measurement="air_quality", time=t, fields={"pm25": pm25}))
    return out


def test_scenario_time_maps_both_ways() -> None:
    scale = ScenarioTime(start_ms=T0, origin_ms=5_000_000, speed=240)
    assert scale.to_scenario(5_000_000) == T0
    assert scale.to_scenario(5_000_000 + 15 * S) == T0 + H  # 15 s real: a scenario hour
    assert scale.to_real(T0 + 2 * H) == 5_000_000 + 30 * S
    assert scale.now_ms(lambda: 5_000 + 30.0) == T0 + 2 * H


def test_scenario_clock_writes_each_scenario_hour_at_its_real_time(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    store.ensure()
    origin = 1_800_000_000_000
    rows = scenario_readings(origin, 240, 170)
    # Readings of an earlier scenario, just before this one began: not this scenario's.
    rows.insert(
        0,
        Reading(
            sensor="env1", measurement="air_quality", time=origin - 2 * S, fields={"pm25": 500.0}
        ),
    )
    store.write(batch_to_points(Batch(gateway="gw-a", seq=1, sent=origin, readings=rows)))
    scale = ScenarioTime(start_ms=T0, origin_ms=origin, speed=240)
    seen = ScenarioStore(store, store, scale)
    assert [
        p.time_ms for p in seen.points("air_quality", start_ms=T0 + H, end_ms=T0 + H + 10 * MIN)
    ] == [
        T0 + H,
        T0 + H + 5 * MIN,
    ]
    assert min(p.time_ms for p in seen.points("air_quality")) == T0  # not the earlier one
    # 42 s after the origin: scenario 02:48, hours 00 and 01 complete
    assert one_pass(store, seen, lambda: scale.to_scenario(origin + 42 * S)) > 0
    ispu = store.points("jagajalan_ispu_hourly")
    assert [(p.time_ms, p.fields["category"]) for p in ispu] == [
        (origin, "baik"),
        (origin + 15 * S, "sedang"),
    ]
    store.close()


def jagajalan(*argv: str) -> list[str]:
    return [sys.executable, "-m", "jagajalan.cli", *argv]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}


def test_analytics_run_with_the_data_clock_writes_the_past_windows(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store = SQLiteStore(db)
    store.ensure()
    write_as_ingest(store)
    log = (tmp_path / "analytics.log").open("wb")
    argv = jagajalan("analytics", "run", "--sqlite", str(db), "--every", "1", "--clock", "data")
    proc = children.start(argv, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        points = wait_for(
            lambda: store.points("jagajalan_ispu_hourly"), 30, "the hourly ISPU of the past"
        )
        assert [(p.time_ms, p.fields["category"]) for p in points] == [
            (T0, "baik"),
            (T0 + H, "sedang"),
        ]
    finally:
        code = children.stop(proc)
        log.close()
        store.close()
    assert code == 0, (tmp_path / "analytics.log").read_text()
    assert "clock=data" in (tmp_path / "analytics.log").read_text()


def test_analytics_run_with_the_scenario_clock_follows_the_played_scenario(
    tmp_path: Path,
) -> None:
    import time
    from datetime import UTC, datetime

    db = tmp_path / "store.sqlite"
    store = SQLiteStore(db)
    store.ensure()
    speed = 3600  # a scenario hour a real second
    origin = int(time.time() * 1000) - 2500  # the scenario began 2.5 s ago: hours 00, 01 done
    rows = scenario_readings(origin, speed, 150)
    store.write(batch_to_points(Batch(gateway="gw-a", seq=1, sent=origin, readings=rows)))
    iso = datetime.fromtimestamp(origin / 1000, UTC).isoformat(timespec="milliseconds")
    argv = jagajalan(
        "analytics",
        "run",
        "--sqlite",
        str(db),
        "--every",
        "1",
        "--clock",
        "scenario",
        "--scenario-start",
        "2025-11-30T00:00:00Z",
        "--scenario-origin",
        iso,
        "--scenario-speed",
        str(speed),
        "--lookback",
        "36000",  # ten scenario hours, 10 s: whatever the start-up takes here
    )
    log = (tmp_path / "analytics.log").open("wb")
    proc = children.start(argv, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        points = wait_for(
            lambda: [p for p in store.points("jagajalan_ispu_hourly") if p.time_ms > origin],
            30,
            "the second scenario hour's ISPU",
        )
    finally:
        code = children.stop(proc)
        log.close()
    ispu = store.points("jagajalan_ispu_hourly")
    store.close()
    assert code == 0, (tmp_path / "analytics.log").read_text()
    assert points[0].time_ms == origin + 1000 and points[0].fields["category"] == "sedang"
    assert (ispu[0].time_ms, ispu[0].fields["category"]) == (origin, "baik")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--clock", "scenario", "--scenario-speed", "240"], "--scenario-start"),
        (["--scenario-speed", "240"], "only with --clock scenario"),
        (["--clock", "sundial"], "--clock"),
    ],
)
def test_clock_option_mistakes_exit_2_naming_them(
    options: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analytics", "run", "--sqlite", str(tmp_path / "s.sqlite"), *options])
    assert code == 2
    assert named in capsys.readouterr().err
