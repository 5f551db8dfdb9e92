"""The indicators job: read readings through the store's read interface, compute
(:mod:`indicators.compute`), write the points back through its write interface.

- :func:`compute_range`: the points of every window starting in [start_ms, end_ms).
- :func:`backfill`: the same over a long range, an hour at a time, with progress.
- :func:`run`: every *every_s* seconds, the last complete windows (the last *lookback_s*,
  so that readings arriving late, e.g. a gateway's spool replayed after an outage, are
  counted on the next pass); recomputing a window rewrites the same points.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indicators import compute
from indicators.config import HOUR_S, IndicatorsConfig
from store.base import StoreReader, StoreWriter
from telemetry.mapping import Point

if TYPE_CHECKING:
    from indicators.metrics import AnalyticsMetrics

log = logging.getLogger("indicators")

CHUNK_MS = HOUR_S * 1000
#: Points per write request.
WRITE_BATCH = 5000


def compute_range(
    reader: StoreReader, config: IndicatorsConfig, start_ms: int, end_ms: int
) -> list[Point]:
    """Every indicator point of the windows starting in [start_ms, end_ms)."""
    spans = compute.reads(config, start_ms, end_ms)

    def read(measurement: str) -> list[Point]:
        lo, hi = spans[measurement]
        return reader.points(measurement, start_ms=lo, end_ms=hi)

    return [
        *compute.ispu_hourly(read("air_quality"), config, start_ms, end_ms),
        *compute.traffic(
            read("traffic"), read("traffic_flow"), read("vehicle"), config, start_ms, end_ms
        ),
        *compute.flood_status(read("water_level"), config, start_ms, end_ms),
    ]


def write(writer: StoreWriter, points: Sequence[Point]) -> None:
    for i in range(0, len(points), WRITE_BATCH):
        writer.write(points[i : i + WRITE_BATCH])


@dataclass(frozen=True)
class Progress:
    done_ms: int  # windows before this time are written
    start_ms: int
    end_ms: int
    points: int  # written so far

    @property
    def fraction(self) -> float:
        return (self.done_ms - self.start_ms) / (self.end_ms - self.start_ms)


def backfill(
    reader: StoreReader,
    writer: StoreWriter,
    config: IndicatorsConfig,
    start_ms: int,
    end_ms: int,
    progress: Callable[[Progress], None] | None = None,
) -> int:
    """Compute and write every window starting in [start_ms, end_ms), a UTC hour at a time
    (every window length divides an hour, so an hour's windows are whole); the points
    written. *progress* is called after each hour."""
    if start_ms >= end_ms:
        raise ValueError("the end must be after the start")
    written, chunk_start = 0, start_ms
    while chunk_start < end_ms:
        chunk_end = min(end_ms, chunk_start - chunk_start % CHUNK_MS + CHUNK_MS)
        points = compute_range(reader, config, chunk_start, chunk_end)
        write(writer, points)
        written += len(points)
        if progress is not None:
            progress(Progress(chunk_end, start_ms, end_ms, written))
        chunk_start = chunk_end
    return written


def last_complete(config: IndicatorsConfig, now_ms: int, lookback_s: int) -> tuple[int, int]:
    """[start, end) of the windows that ended by *now_ms* within the last *lookback_s*: the
    end is the start of the hour (ISPU's window, the longest) or interval in progress."""
    step = max(3600, config.traffic.interval_s, config.flood.interval_s) * 1000
    shortest = min(config.traffic.interval_s, config.flood.interval_s) * 1000
    end = compute.floor_ms(now_ms, shortest)
    start = compute.floor_ms(end - lookback_s * 1000, step)
    return start, end


def pass_once(
    reader: StoreReader,
    writer: StoreWriter,
    config: IndicatorsConfig,
    now_ms: int,
    lookback_s: int,
) -> int:
    """One pass of the service: the windows complete by *now_ms*; the points written.

    ISPU hours, traffic and flood intervals each end on their own grid, so each indicator
    writes only windows that ended by now: an hour in progress is not written."""
    points = complete_points(reader, config, now_ms, lookback_s)
    write(writer, points)
    return len(points)


def complete_points(
    reader: StoreReader, config: IndicatorsConfig, now_ms: int, lookback_s: int
) -> list[Point]:
    """The points :func:`pass_once` writes."""
    start, end = last_complete(config, now_ms, lookback_s)
    return [
        p
        for p in compute_range(reader, config, start, end)
        if p.time_ms + _length_ms(config, p.measurement) <= now_ms
    ]


def _length_ms(config: IndicatorsConfig, measurement: str) -> int:
    if measurement == compute.TRAFFIC_MEASUREMENT:
        return config.traffic.interval_s * 1000
    if measurement == compute.FLOOD_MEASUREMENT:
        return config.flood.interval_s * 1000
    return compute.HOUR_MS


def run(
    reader: StoreReader,
    writer: StoreWriter,
    config: IndicatorsConfig | Callable[[], IndicatorsConfig],
    every_s: float,
    lookback_s: int,
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    on_pass: Callable[[int], None] | None = None,
    metrics: AnalyticsMetrics | None = None,
    now_ms: Callable[[], int | None] | None = None,
) -> None:
    """Pass after pass until *stop* is set; a failed pass is logged and retried next time.
    *metrics* (``--metrics-port``) counts the passes, their time and what they wrote. "Now" is
    *clock* (seconds), or *now_ms* when given (indicators.clock: the data's or a scenario's
    time; None: no readings yet, no pass). *config* may be a function called before each pass
    (indicators.sites.RegistrySites: the registry's sites, read again)."""
    from store.base import StoreError

    while not stop.is_set():
        began = time.perf_counter()
        try:
            now = int(clock() * 1000) if now_ms is None else now_ms()
            if now is None:
                log.info("event=indicators_no_readings")
                stop.wait(every_s)
                continue
            current = config() if callable(config) else config
            points = complete_points(reader, current, now, lookback_s)
            write(writer, points)
        except StoreError as exc:
            log.warning("event=indicators_pass_failed error=%r", str(exc))
            if metrics is not None:
                metrics.failed(time.perf_counter() - began)
        else:
            log.info("event=indicators_pass points=%d", len(points))
            if metrics is not None:
                metrics.passed(points, time.perf_counter() - began, clock())
            if on_pass is not None:
                on_pass(len(points))
        stop.wait(every_s)
