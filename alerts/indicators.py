"""Rules on the indicators job's measurements (hourly ISPU, traffic, flood status): those
points are not on MQTT, the job writes them into the store; the service reads what is new.

Each read takes, per measurement a rule watches, the points from an hour before the newest
one seen (the job rewrites its last windows when late readings arrive) up to now. The engine
evaluates a point once per entity and time: older points are history, the same point again
changes nothing.
"""

from __future__ import annotations

import logging

from store import StoreError, StoreReader
from telemetry.mapping import Point
from telemetry.models import DERIVED_MEASUREMENTS

log = logging.getLogger("alerts")

LOOKBACK_MS = 3_600_000


class IndicatorFeed:
    def __init__(self, reader: StoreReader, measurements: set[str]) -> None:
        self.reader = reader
        self.measurements = sorted(m for m in measurements if m in DERIVED_MEASUREMENTS)
        self.newest: dict[str, int] = {}

    def poll(self, now_s: float) -> list[Point]:
        """The points to evaluate, oldest first; none (logged) while the store is away."""
        out: list[Point] = []
        now_ms = int(now_s * 1000)
        for m in self.measurements:
            start = self.newest.get(m, now_ms) - LOOKBACK_MS
            try:
                points = self.reader.points(m, start_ms=start, end_ms=now_ms + 1)
            except StoreError as exc:
                log.warning(
                    "event=alerts_indicators_unreadable measurement=%s error=%r", m, str(exc)
                )
                continue
            if points:
                self.newest[m] = max(p.time_ms for p in points)
            out += points
        return sorted(out, key=lambda p: p.time_ms)
