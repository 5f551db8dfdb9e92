"""Prometheus metrics of the indicators job (``jagajalan analytics run --metrics-port``), on a
registry of its own, served by :class:`kernel.metrics.MetricsServer`.

A pass is one computation of the last complete windows (:func:`indicators.job.pass_once`). A
*window* here is one window start of one indicator measurement that produced points in a pass
(an ISPU hour, a traffic or flood interval); a *point* is one series' value in it (a station, a
segment and lane, a site). Store calls are timed and failures counted per store method through
:class:`store.metered.MeteredStore`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from indicators.compute import MEASUREMENTS
from kernel.metrics import DURATION_BUCKETS, MetricsServer
from telemetry.mapping import Point

_PASS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class AnalyticsMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.passes = Counter(
            "jagajalan_analytics_passes",
            "passes run, by result: ok, or failed (a store error; retried on the next pass)",
            ["result"],
            registry=r,
        )
        self.pass_seconds = Histogram(
            "jagajalan_analytics_pass_seconds",
            "time of one pass (read, compute, write), failed ones included",
            buckets=_PASS_BUCKETS,
            registry=r,
        )
        self.windows = Counter(
            "jagajalan_analytics_windows_computed",
            "windows written by passes (a window start of a measurement with points), by"
            " measurement; recomputed windows count again",
            ["measurement"],
            registry=r,
        )
        self.points = Counter(
            "jagajalan_analytics_points_written",
            "indicator points written, by measurement",
            ["measurement"],
            registry=r,
        )
        self.last_success = Gauge(
            "jagajalan_analytics_last_success_timestamp_seconds",
            "Unix time at which the last successful pass ended; 0 before the first",
            registry=r,
        )
        self.store_seconds = Histogram(
            "jagajalan_analytics_store_seconds",
            "time of store calls, failed ones included, by store method",
            ["method"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "jagajalan_analytics_store_errors",
            "failed store calls, by store method and kind (transient: the store is down or"
            " slow; configuration: not set up for the job's user; points: points refused;"
            " refused: anything else)",
            ["method", "kind"],
            registry=r,
        )
        for result in ("ok", "failed"):
            self.passes.labels(result)
        for measurement in MEASUREMENTS:  # present at 0 from the start, for rate()
            self.windows.labels(measurement)
            self.points.labels(measurement)
        self.server = MetricsServer(self.registry)

    def observe_store(self, method: str, seconds: float, failure: str | None) -> None:
        """The callback of :class:`store.metered.MeteredStore`."""
        self.store_seconds.labels(method).observe(seconds)
        if failure is not None:
            self.store_errors.labels(method, failure).inc()

    def passed(self, points: Sequence[Point], seconds: float, now_s: float) -> None:
        self.passes.labels("ok").inc()
        self.pass_seconds.observe(seconds)
        for measurement, n in Tally(p.measurement for p in points).items():
            self.points.labels(measurement).inc(n)
        windows = Tally(m for m, _ in {(p.measurement, p.time_ms) for p in points})
        for measurement, n in windows.items():
            self.windows.labels(measurement).inc(n)
        self.last_success.set(now_s)

    def failed(self, seconds: float) -> None:
        self.passes.labels("failed").inc()
        self.pass_seconds.observe(seconds)
