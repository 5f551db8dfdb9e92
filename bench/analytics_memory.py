"""The indicators job's memory over many passes on the same data (``make bench``; issue 15).

The 30-minute soak saw ``analytics run`` grow about 141 MB/h. Its passes read every raw
reading of their windows (ISPU's 24-hour averaging plus the lookback: about 26 h of
``air_quality``), and in a soak those windows fill as it runs, so a growing RSS alone cannot
tell a leak from a growing window. Here the window does not grow: a real InfluxDB holds a
fixed district (:class:`Scale`: gateways with an air-quality sensor every minute over 27 h,
a water-level gauge and a traffic counter's 1-minute flow over the last 4 h), and a real
``jagajalan analytics run --clock data`` (now = the newest reading, which does not move)
passes over it every second. Its RSS is sampled once a second; printed:

- the readings a pass reads (at most), the indicator points it writes, and the RSS after the
  first pass;
- the RSS slope (MB/h, least squares) over the second half of the passes: a leak per pass
  shows here, a window that fills does not;
- the peak RSS (VmHWM) and the bytes of peak RSS per reading a pass reads.

:func:`run` takes a :class:`Scale`; tests/bench/test_analytics_memory_bench.py runs it tiny.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procfs import peak_rss_mb
from testkit import children
from testkit.chaos.rss import rss_mb, slope_per_hour
from testkit.gateway import wait_until
from testkit.influx_setup import setup_database
from testkit.services import influxd

MIN, HOUR = 60_000, 3_600_000


@dataclass(frozen=True)
class Scale:
    gateways: int = 100
    air_hours: int = 27  # ISPU's 24-hour averaging plus the lookback
    other_hours: int = 4
    seconds: float = 300  # of passes, one a second


FULL = Scale()


def lines(scale: Scale, end_ms: int) -> list[str]:
    """The district's readings in line protocol, as ingest writes them."""
    out = []
    ns = 1_000_000
    for g in range(scale.gateways):
        gw = f"gw-{g:04d}"
        for m in range(scale.air_hours * 60):
            t = end_ms - m * MIN
            pm25 = 20 + (g * 7 + m) % 90
            out.append(
                f"air_quality,gateway={gw},sensor=env1 pm25={pm25}.0,pm10={pm25 * 1.4:.1f} {t * ns}"
            )
        for m in range(scale.other_hours * 60):
            t = end_ms - m * MIN
            level = (g + m) % 40
            out.append(f"water_level,gateway={gw},sensor=lvl1 water_depth_cm={level}.0 {t * ns}")
            out.append(
                f"traffic_flow,gateway={gw},sensor=cnt1,lane=1,direction=in count={5 + m % 20}i "
                f"{t * ns}"
            )
    return out


def readings_per_pass(scale: Scale) -> int:
    """Readings a pass reads: every air-quality reading (its window reaches back 26 h at
    least), the others of the lookback (2 h, from the start of the hour)."""
    air = scale.gateways * min(scale.air_hours, 27) * 60
    return air + 2 * scale.gateways * min(scale.other_hours, 3) * 60


def load(url: str, db: str, body: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        for i in range(0, len(body), 50_000):
            chunk = "\n".join(body[i : i + 50_000]).encode()
            r = client.post("/write", params={"db": db, "precision": "ns"}, content=chunk)
            r.raise_for_status()


def passes_logged(log: Path) -> int:
    return log.read_text(errors="replace").count("event=indicators_pass ")


def points_written(log: Path) -> int:
    """Indicator points the last pass wrote (a pass that read nothing would write none)."""
    found = re.findall(r"event=indicators_pass points=(\d+)", log.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def sample(pid: int, log: Path, seconds: float) -> list[tuple[float, float]]:
    """(s since the first pass ended, RSS MB) once a second for *seconds*."""
    if not wait_until(lambda: passes_logged(log) >= 1, 600, 0.2):
        raise RuntimeError(f"no pass of the indicators job within 10 min; see {log}")
    began, out = time.monotonic(), []
    while (now := time.monotonic()) - began < seconds:
        mb = rss_mb(pid)
        if mb is None:
            raise RuntimeError(f"the indicators job exited; see {log}")
        out.append((now - began, mb))
        time.sleep(1)  # the sampling period (a rate, not a wait for something)
    return out


def run(scale: Scale = FULL) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="jj-bench-analytics-") as tmp:
        work = Path(tmp)
        with influxd(work / "influx") as influx:
            db = "bench"
            setup_database(influx.url, db)
            end_ms = (int(time.time() * 1000) // MIN) * MIN
            body = lines(scale, end_ms)
            load(influx.url, db, body)
            figures["readings_stored"] = len(body)
            log_path = work / "analytics.log"
            argv = [sys.executable, "-m", "jagajalan.cli", "analytics", "run"]
            argv += ["--influx-url", influx.url, "--influx-db", db]
            argv += ["--registry-db", str(work / "no-registry.sqlite3")]
            argv += ["--clock", "data", "--every", "1"]
            with log_path.open("wb") as log:
                proc = children.start(argv, stdout=log, stderr=log)
                try:
                    samples = sample(proc.pid, log_path, scale.seconds)
                    figures["peak_rss_mb"] = round(peak_rss_mb(proc.pid), 1)
                finally:
                    children.stop(proc)
            figures["passes"] = passes_logged(log_path)
            figures["points_written_per_pass"] = points_written(log_path)
    half = [(t, mb) for t, mb in samples if t >= samples[-1][0] / 2]
    figures["readings_read_per_pass"] = readings_per_pass(scale)
    figures["rss_after_first_pass_mb"] = round(samples[0][1], 1)
    figures["rss_last_mb"] = round(samples[-1][1], 1)
    slope = slope_per_hour(half)
    figures["rss_slope_mb_h_second_half"] = round(slope, 1) if slope is not None else -1
    figures["peak_rss_bytes_per_reading_read"] = round(
        figures["peak_rss_mb"] * 1024 * 1024 / figures["readings_read_per_pass"]
    )
    return figures


def main() -> None:
    for name, value in run().items():
        print(f"analytics_memory.{name} {value}", flush=True)


if __name__ == "__main__":
    main()
