"""The active alerts as a gauge in the store, for Grafana's district summary.

The alerts live in the registry's database (SQLite or PostgreSQL), which Grafana's one data
source, InfluxDB as the read-only ``jagajalan_grafana`` user, does not read. Rather than a
second data source (Grafana has none for SQLite, and PostgreSQL would need its own read-only
role, credentials and a query language of its own in the dashboards), the acting alerts
instance writes, after every evaluation, how many alerts are open: one
``jagajalan_alerts_active`` point per severity (tag ``severity``: info, warning, critical;
fields ``firing``, ``acknowledged`` and ``active``, their sum: integers), every severity every
time, so the newest points are complete and a count falls back to 0 when its alerts resolve.
A standby writes nothing (its lifecycle is not the one that acts).

The points go through the store's write interface, as the same user that reads the indicators
(``jagajalan_alerts``, ALL on the database: store/privileges.py). A store that refuses the
write never stops the evaluation: logged, at most once a minute, and tried again next time.
"""

from __future__ import annotations

import logging
import time
import typing
from collections.abc import Callable, Iterable

from alerts.evaluator import Evaluator
from alerts.lifecycle.policy import Alert
from alerts.rules.config import Severity
from store import StoreError, StoreWriter
from telemetry.mapping import Point
from telemetry.models import ALERTS_ACTIVE_MEASUREMENT

log = logging.getLogger("alerts")

SEVERITIES: tuple[str, ...] = typing.get_args(Severity)
STATES = ("firing", "acknowledged")
_LOG_INTERVAL_S = 60.0


def gauge_points(alerts: Iterable[Alert], time_ms: int) -> list[Point]:
    """One point per severity: its open alerts by state, and their sum. Pure."""
    counts = {(s, st): 0 for s in SEVERITIES for st in STATES}
    for alert in alerts:
        if (alert.severity, alert.state) in counts:
            counts[(alert.severity, alert.state)] += 1
    points = []
    for severity in SEVERITIES:
        fields: dict[str, float | int | str] = {st: counts[(severity, st)] for st in STATES}
        fields["active"] = sum(counts[(severity, st)] for st in STATES)
        points.append(Point(ALERTS_ACTIVE_MEASUREMENT, {"severity": severity}, fields, time_ms))
    return points


def open_alerts(evaluator: Evaluator) -> list[Alert]:
    """The acting lifecycle's open alerts, taken under the evaluator's lock."""
    with evaluator.lock:
        return list(evaluator.lifecycle.open.values())


class Gauge:
    def __init__(self, writer: StoreWriter, monotonic: Callable[[], float] = time.monotonic):
        self.writer, self.monotonic = writer, monotonic
        self.failures = 0
        self._logged_at = float("-inf")

    def write(self, alerts: Iterable[Alert], now_s: float) -> bool:
        """Write the counts of *alerts* at *now_s*; False (logged) if the store refused."""
        try:
            self.writer.write(gauge_points(alerts, int(now_s * 1000)))
        except StoreError as exc:
            self.failures += 1
            if self.monotonic() - self._logged_at >= _LOG_INTERVAL_S:
                self._logged_at = self.monotonic()
                log.warning(
                    "event=alerts_gauge_unwritten failures=%d error=%r",
                    self.failures,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
            return False
        return True
