"""Prometheus metrics of ``jagajalan analytics run --metrics-port``: passes, their time, windows
and points written per measurement, store calls and failures, the last successful pass."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from indicators import job
from indicators.compute import MEASUREMENTS
from indicators.config import IndicatorsConfig
from indicators.metrics import AnalyticsMetrics
from store import StoreUnavailable
from store.metered import MeteredStore
from store.sqlite import SQLiteStore
from telemetry.mapping import Point, batch_to_points
from telemetry.models import Batch, Reading
from testkit import children
from testkit.ingest import metric, scrape, wait_for
from testkit.services import free_port
from tests.indicators.test_job import MIN, T0, H, write_as_ingest

ISPU, TRAFFIC, FLOOD = "jagajalan_ispu_hourly", "jagajalan_traffic", "jagajalan_flood_status"


def samples(metrics: AnalyticsMetrics) -> dict:
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_pass_counts_windows_and_points_per_measurement(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    write_as_ingest(store)  # 3 hours from T0: air quality, traffic, water level
    metrics = AnalyticsMetrics()
    metered = MeteredStore(store, metrics.observe_store)
    now = T0 + 2 * H + 20 * MIN  # 02:20Z: hours 00 and 01 done, 02 in progress
    stop = threading.Event()
    try:
        job.run(
            metered,  # type: ignore[arg-type]
            metered,  # type: ignore[arg-type]
            IndicatorsConfig(),
            60,
            3 * 3600,
            stop,
            clock=lambda: now / 1000,
            on_pass=lambda n: stop.set(),
            metrics=metrics,
        )
        written: dict[str, list[Point]] = {m: store.points(m) for m in MEASUREMENTS}
    finally:
        store.close()
    s = samples(metrics)
    assert metric(s, "jagajalan_analytics_passes_total", result="ok") == 1
    assert metric(s, "jagajalan_analytics_passes_total", result="failed") == 0
    assert metric(s, "jagajalan_analytics_pass_seconds_count") == 1
    # One station: 2 complete ISPU hours, 2 points; traffic 00:00 to 02:15 in 15 min (one
    # lane: 9 windows, 9 points); flood every 5 min of one site up to 02:15 (28).
    for m, windows, points in ((ISPU, 2, 2), (TRAFFIC, 9, 9), (FLOOD, 28, 28)):
        assert len(written[m]) == points and len({p.time_ms for p in written[m]}) == windows
        assert metric(s, "jagajalan_analytics_points_written_total", measurement=m) == points
        assert metric(s, "jagajalan_analytics_windows_computed_total", measurement=m) == windows
    assert metric(s, "jagajalan_analytics_last_success_timestamp_seconds") == now / 1000
    # Five measurements read (air quality, traffic, traffic flow, vehicles, water level), one
    # write of every point.
    assert metric(s, "jagajalan_analytics_store_seconds_count", method="points") == 5
    assert metric(s, "jagajalan_analytics_store_seconds_count", method="write") == 1
    assert not any(name == "jagajalan_analytics_store_errors_total" for name, _ in s)


class _Down(SQLiteStore):
    def __init__(self, path: Path, stop: threading.Event) -> None:
        super().__init__(path)
        self.stop = stop

    def points(self, *args: object, **kwargs: object) -> list[Point]:
        self.stop.set()
        raise StoreUnavailable("connection refused")


def test_a_failed_pass_counts_the_store_error_and_no_success(tmp_path: Path) -> None:
    stop = threading.Event()
    store = _Down(tmp_path / "store.sqlite", stop)
    store.ensure()
    metrics = AnalyticsMetrics()
    metered = MeteredStore(store, metrics.observe_store)
    try:
        job.run(metered, metered, IndicatorsConfig(), 60, 7200, stop, metrics=metrics)  # type: ignore[arg-type]
    finally:
        store.close()
    s = samples(metrics)
    assert metric(s, "jagajalan_analytics_passes_total", result="failed") == 1
    assert metric(s, "jagajalan_analytics_passes_total", result="ok") == 0
    errors = "jagajalan_analytics_store_errors_total"
    assert metric(s, errors, method="points", kind="transient") == 1
    assert metric(s, "jagajalan_analytics_last_success_timestamp_seconds") == 0
    assert metric(s, "jagajalan_analytics_points_written_total", measurement=ISPU) == 0


def test_analytics_run_serves_its_metrics_on_the_metrics_port(tmp_path: Path) -> None:
    """The command as deployed, against SQLite holding an hour of readings: one pass (then an
    hour's wait), scraped over HTTP."""
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
    store.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    env["JAGAJALAN_METRICS_PORT"] = str(port)  # as a deployment sets it
    log = (tmp_path / "analytics.log").open("wb")
    args = [sys.executable, "-m", "jagajalan.cli", "analytics", "run", "--sqlite", str(db)]
    began = time.time()
    proc = children.start([*args, "--every", "3600"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        passed = "jagajalan_analytics_passes_total"
        wait_for(lambda: metric(scrape(port), passed, result="ok") >= 1, 30, "a pass")
        s = scrape(port)
        ended = time.time()
    finally:
        code = children.stop(proc)
        log.close()
    assert code == 0, (tmp_path / "analytics.log").read_text()
    assert metric(s, passed, result="ok") == 1 and metric(s, passed, result="failed") == 0
    assert metric(s, "jagajalan_analytics_points_written_total", measurement=ISPU) == 1
    assert metric(s, "jagajalan_analytics_windows_computed_total", measurement=ISPU) == 1
    assert metric(s, "jagajalan_analytics_points_written_total", measurement=TRAFFIC) == 0
    assert metric(s, "jagajalan_analytics_pass_seconds_count") == 1
    assert began <= metric(s, "jagajalan_analytics_last_success_timestamp_seconds") <= ended
    assert metric(s, "jagajalan_analytics_store_seconds_count", method="write") == 1
    assert (
        f"event=metrics url=http://0.0.0.0:{port}/metrics"
        in (tmp_path / "analytics.log").read_text()
    )


def test_a_taken_metrics_port_exits_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from jagajalan.cli import main

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["analytics", "run", "--sqlite", str(tmp_path / "s.sqlite")]
        assert main([*args, "--metrics-port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"event=indicators_metrics_failed port={port}" in err and "in use" in err
