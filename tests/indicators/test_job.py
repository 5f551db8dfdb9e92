"""The indicators job end to end, on SQLite and on a real InfluxDB: readings written as ingest
writes them (a gateway's batch through the store's writer), `jagajalan analytics backfill`,
the indicator measurements read back through the store's reader."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indicators import job, settings
from indicators.compute import MEASUREMENTS
from indicators.config import IndicatorsConfig
from jagajalan.cli import main
from store import DEFAULT_SQLITE_PATH, Store
from store.sqlite import SQLiteStore
from telemetry.mapping import Point, batch_to_points
from telemetry.models import Batch, Reading, reserved_measurement

H = 3_600_000
MIN = 60_000
T0 = 1_764_460_800_000  # 2025-11-30T00:00:00Z
START, END = "2025-11-30T00:00:00Z", "2025-11-30T03:00:00Z"


@pytest.fixture(params=["sqlite", pytest.param("influxdb", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, list[str]]]:
    """The store and the options that point the command at it."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite"
        store: Store = SQLiteStore(path)
        options = ["--sqlite", str(path)]
    else:
        from store.influx import InfluxStore

        influx, db = request.getfixturevalue("influx"), request.getfixturevalue("influx_db")
        store = InfluxStore(influx.url, db)
        options = ["--influx-url", influx.url, "--influx-db", db]
    store.ensure()
    # No registry: every site has the file's defaults (tests/indicators/test_sites.py: with one)
    options += ["--registry-db", str(tmp_path / "no-registry.sqlite3")]
    try:
        yield store, options
    finally:
        store.close()


def readings() -> list[Reading]:
    """Three hours of a site: PM2.5 rising through Sedang, a traffic counter's 1-minute
    summaries, water rising over the road and bouncing at 20 cm."""
    out = []
    for m in range(0, 180, 10):
        pm25 = 10.0 if m < 60 else (40.0 if m < 120 else 120.0)
        out.append(
            Reading(
                sensor="env1",
                measurement="air_quality",
                time=T0 + m * MIN,
                fields={"pm25": pm25, "pm10": 30.0},
            )
        )
    for m in range(180):
        t = T0 + m * MIN
        out.append(
            Reading(
                sensor="cnt1",
                measurement="traffic_flow",
                time=t,
                fields={"count": 12},
                tags={"lane": "1", "direction": "in"},
            )
        )
        for cls, n in (("KR", 8), ("SM", 4)):
            out.append(
                Reading(
                    sensor="cnt1",
                    measurement="traffic",
                    time=t,
                    fields={"count": n, "speed_mean": 55.0},
                    tags={"lane": "1", "direction": "in", "vehicle_class": cls},
                )
            )
        cm = 15.0 if m < 60 else (20.5 if m % 2 else 19.5)
        out.append(
            Reading(
                sensor="lvl1",
                measurement="water_level",
                time=t,
                fields={"level": cm, "distance": 100.0 - cm},
            )
        )
    return out


def write_as_ingest(store: Store) -> None:
    rows = readings()
    for seq, i in enumerate(range(0, len(rows), 200)):
        chunk = rows[i : i + 200]
        batch = Batch(gateway="gw-a", seq=seq, sent=chunk[-1].time, readings=chunk)
        store.write(batch_to_points(batch))


def indicators(store: Store) -> dict[str, list[Point]]:
    return {m: store.points(m) for m in MEASUREMENTS}


def test_backfill_writes_the_indicators_and_rewriting_gives_the_same_points(
    backend: tuple[Store, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    store, options = backend
    write_as_ingest(store)
    assert main(["analytics", "backfill", *options, "--start", START, "--end", END]) == 0
    out = capsys.readouterr().out  # progress in Bahasa Indonesia by default
    assert "100.0% selesai, sampai 2025-11-30T03:00:00Z: 51 titik indikator ditulis" in out
    assert out.splitlines()[-1].startswith("51 titik indikator ditulis")
    assert out.count("selesai") == 1  # a progress line a UTC day, and the last one
    first = indicators(store)
    ispu = first["jagajalan_ispu_hourly"]
    assert [(p.time_ms, p.fields["category"]) for p in ispu] == [
        (T0, "baik"),
        (T0 + H, "sedang"),
        (T0 + 2 * H, "tidak_sehat"),
    ]
    assert ispu[2].fields["ispu"] == 168.0  # 120 µg/m³: 100 + 100 / (150.4 - 55.4) * 64.6
    traffic = first["jagajalan_traffic"]
    assert len(traffic) == 12 and {p.time_ms % (15 * MIN) for p in traffic} == {0}
    # 15 min of 8 KR + 4 SM a minute: 720 veh/h < 1800: SM 0.4 on 7 m; (120 + 60 * 0.4) * 4
    assert traffic[0].fields["flow_smp"] == 576.0 and traffic[0].fields["los"] == "B"
    flood = [p.fields["level"] for p in first["jagajalan_flood_status"]]
    assert flood == ["hati_hati"] * 12 + ["bahaya_motor"] * 24  # bouncing: one change
    counts = {m: store.count(m) for m in MEASUREMENTS}
    assert counts == {
        "jagajalan_ispu_hourly": 3,
        "jagajalan_traffic": 12,
        "jagajalan_flood_status": 36,
    }
    # Again, over an overlapping range: the same points, none added.
    assert (
        main(["analytics", "backfill", *options, "--start", START, "--end", "2025-11-30T02:00:00Z"])
        == 0
    )
    assert (
        main(["analytics", "backfill", *options, "--start", START, "--end", END, "--lang", "en"])
        == 0
    )
    assert "51 indicator points written (2025-11-30T00:00:00Z to" in capsys.readouterr().out
    assert indicators(store) == first
    assert {m: store.count(m) for m in MEASUREMENTS} == counts
    # The job's measurements are pipeline names no gateway may write.
    assert all(reserved_measurement(m) for m in MEASUREMENTS)


def test_the_service_writes_only_complete_windows(backend: tuple[Store, list[str]]) -> None:
    store, _ = backend
    write_as_ingest(store)
    config = IndicatorsConfig()
    now = T0 + 2 * H + 20 * MIN  # 02:20Z: hour 02 and the traffic interval 02:15 in progress
    stop, passes = threading.Event(), []

    def once(n: int) -> None:
        passes.append(n)
        stop.set()

    job.run(store, store, config, 60, 3 * 3600, stop, clock=lambda: now / 1000, on_pass=once)
    assert passes and passes[0] > 0
    assert [p.time_ms for p in store.points("jagajalan_ispu_hourly")] == [T0, T0 + H]
    assert store.points("jagajalan_traffic")[-1].time_ms == T0 + 2 * H
    assert store.points("jagajalan_flood_status")[-1].time_ms == T0 + 2 * H + 15 * MIN


def test_a_mistake_in_the_config_file_stops_with_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "analytics.toml"
    bad.write_text('[traffic]\nroad_type = "9/9"\n', encoding="utf-8")
    code = main(
        [
            "analytics",
            "backfill",
            "--sqlite",
            str(tmp_path / "s.sqlite"),
            "--config",
            str(bad),
            "--start",
            START,
            "--end",
            END,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "analytics.toml" in err and "traffic.road_type" in err and "9/9" in err
    code = main(
        [
            "analytics",
            "backfill",
            "--sqlite",
            str(tmp_path / "s.sqlite"),
            "--start",
            END,
            "--end",
            START,
        ]
    )
    assert code == 2 and "--end" in capsys.readouterr().err


def test_default_sqlite_path_is_the_stores() -> None:
    assert settings.DEFAULT_SQLITE_PATH == DEFAULT_SQLITE_PATH


def test_analytics_run_is_a_service_that_stops_on_sigterm(tmp_path: Path) -> None:
    """The command as deployed: it writes the windows completed since the readings came, on
    its own clock, until SIGTERM, then exits 0."""
    import os
    import subprocess
    import sys

    from testkit import children
    from testkit.ingest import wait_for

    db = tmp_path / "store.sqlite"
    store = SQLiteStore(db)
    store.ensure()
    hour = (int(time.time() * 1000) // H - 1) * H  # the last complete hour
    rows = [
        Reading(
            sensor="env1", measurement="air_quality", time=hour + m * MIN, fields={"pm25": 40.0}
        )
        for m in range(0, 60, 5)
    ]
    store.write(batch_to_points(Batch(gateway="gw-a", seq=1, sent=hour, readings=rows)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    log = (tmp_path / "analytics.log").open("wb")
    proc = children.start(
        [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "analytics",
            "run",
            "--sqlite",
            str(db),
            "--every",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        points = wait_for(lambda: store.points("jagajalan_ispu_hourly"), 30, "the hourly ISPU")
        assert [(p.time_ms, p.fields["category"]) for p in points] == [(hour, "sedang")]
    finally:
        code = children.stop(proc)
        log.close()
        store.close()
    assert code == 0, (tmp_path / "analytics.log").read_text()
    assert "event=indicators_pass" in (tmp_path / "analytics.log").read_text()


def test_the_readme_commands_parse() -> None:
    """README.md's `jagajalan analytics ...` lines use options the commands have."""
    import re
    import shlex

    from jagajalan.cli import build_parser

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^jagajalan analytics (?:\\\n|[^\n])*", text, re.MULTILINE)
    assert {c.split()[2] for c in commands} == {"run", "backfill"}
    for command in commands:
        words = shlex.split(command.replace("\\\n", " "), comments=True)
        args = build_parser().parse_args(words[1:])
        assert args.component == "analytics" and args.influx_url


@pytest.mark.services
def test_backfill_into_a_store_not_set_up_exits_1_naming_it(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    influx, db = request.getfixturevalue("influx"), request.getfixturevalue("influx_db")
    args = ["analytics", "backfill", "--influx-url", influx.url, "--influx-db", db]
    assert main([*args, "--start", START, "--end", END]) == 1  # no `store setup`: no database
    err = capsys.readouterr().err
    assert "indicators_backfill_failed" in err and db in err
