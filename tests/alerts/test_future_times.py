"""A gateway clock ahead of the server's does not hide the gateway's later messages from the
rules (found by the clock_jump chaos scenario: after the gateway's clock jumped an hour forward
and back, its offline status at the stop raised no alert).

The engine treats a point older than the last it evaluated for a rule and entity as history;
one status stamped an hour ahead made every later status history for that hour, the Last Will
included. ``alerts.evaluator.points_of`` takes a point stamped more than a minute after its
arrival at its arrival instead.
"""

from __future__ import annotations

from alerts.evaluator import FUTURE_TOLERANCE_MS, points_of
from alerts.rules.config import AlertRules
from alerts.rules.engine import Engine
from kernel.config import load_toml
from telemetry.codec import encode_batch, encode_status
from telemetry.models import Batch, Reading, Status
from testkit import REPO

GW = "srl-pasar-01"
NOW = 1_796_600_000_000  # 2026-12-06T23:33:20Z
HOUR = 3_600_000
STATUS = f"jagajalan/v1/{GW}/status"
READINGS = f"jagajalan/v1/{GW}/readings"


def status(state: str, time_ms: int | None) -> bytes:
    return encode_status(Status(gateway=GW, state=state, time=time_ms))


def test_a_point_stamped_after_its_arrival_is_taken_at_its_arrival() -> None:
    (ahead,) = points_of(STATUS, status("online", NOW + HOUR), NOW)[:1]
    (skewed,) = points_of(STATUS, status("online", NOW + FUTURE_TOLERANCE_MS), NOW)[:1]
    (past,) = points_of(STATUS, status("online", NOW - HOUR), NOW)[:1]
    assert (ahead.time_ms, skewed.time_ms, past.time_ms) == (
        NOW,
        NOW + FUTURE_TOLERANCE_MS,
        NOW - HOUR,
    )
    readings = [
        Reading(sensor="env1", measurement="air_quality", time=t, fields={"pm25": 40.0})
        for t in (NOW - 1000, NOW + HOUR)
    ]
    payload = encode_batch(Batch(gateway=GW, seq=1, sent=NOW, readings=readings))
    assert [p.time_ms for p in points_of(READINGS, payload, NOW)] == [NOW - 1000, NOW]


def test_the_offline_after_a_clock_an_hour_ahead_raises_its_alert() -> None:
    rules = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
    engine = Engine(rules)
    for point in points_of(STATUS, status("online", NOW + HOUR), NOW):  # clock jumped forward
        engine.observe(point)
    stop = NOW + 60_000  # the clock is right again; the gateway stops
    for point in points_of(STATUS, status("offline", stop), stop):
        engine.observe(point)
    events = engine.tick(stop / 1000 + 301)  # gateway-offline: offline for 300 s
    assert [(e.rule, e.gateway, e.kind) for e in events] == [("gateway-offline", GW, "raised")]
