"""Points and times shared by the store contract tests and the API tests."""

from __future__ import annotations

from telemetry.mapping import Point, batch_meta_point
from telemetry.models import Batch, Reading

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z


MIN = 60_000


GW1, GW2, GW3 = "srl-pasar-01", "srl-pauh-01", "pdg-bypass-02"


def air(gateway: str, time_ms: int, **fields: float) -> Point:
    return Point("air_quality", {"gateway": gateway, "sensor": "env1"}, fields, time_ms)


def traffic(gateway: str, lane: str, time_ms: int, **fields: float | int) -> Point:
    tags = {"gateway": gateway, "sensor": "cnt1", "lane": lane}
    return Point("traffic", tags, fields, time_ms)


def batch_point(gateway: str, seq: int, sent: int) -> Point:
    reading = Reading(sensor="env1", measurement="air_quality", time=sent, fields={"pm25": 1.0})
    return batch_meta_point(Batch(gateway=gateway, seq=seq, sent=sent, readings=[reading]))
