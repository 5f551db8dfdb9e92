"""The alerts service's core, without MQTT: messages in, alerts and notifications out.

:class:`Evaluator` turns an MQTT message (a readings batch or a status, decoded by the
telemetry contract exactly as ingest decodes it; the topic's gateway must be the payload's)
into points for the rule engine, and on each :meth:`Evaluator.evaluate` (every ``--every``
seconds) takes the acknowledgements the API or the CLI wrote, moves the engine's clock
(absence, states that hold without data), and the lifecycle's (reminders, escalation).

Several instances may run: every instance evaluates every message (each subscribes to all of
them, so each holds the same engine state), and only the one holding the lease
(alerts/lease.py) applies the events to the lifecycle and writes them — the alert rows and
the notifications they make in one transaction (*deliver*, the outbox), so nothing is sent
twice and a standby can take over without a gap. Why not a shared subscription: an entity's
alert needs every one of its messages in one place; a shared subscription would spread them
over the instances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field, replace

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alerts.lifecycle import store
from alerts.lifecycle.policy import Alert, Lifecycle, Notification
from alerts.rules.engine import Engine as RuleEngine
from alerts.rules.engine import Event
from telemetry import topics
from telemetry.codec import DecodeError, decode_batch, decode_status
from telemetry.mapping import Point, batch_to_points, status_points

log = logging.getLogger("alerts")

#: Writes notifications in the caller's session (the transaction that writes the alerts).
Deliver = Callable[[Session, Sequence[Notification]], None]


#: How far a point's time may lie after its arrival before the rules take the arrival time
#: instead (ms): a minute, more than the skew of any synchronised clock, far less than a
#: clock that jumped (an hour, a day). A point within it hides later ones for at most that.
FUTURE_TOLERANCE_MS = 60_000


def points_of(topic: str, payload: bytes, received_ms: int) -> list[Point]:
    """The points of one message, none dated after its arrival; ValueError naming what is
    wrong (the message is dropped: ingest dead-letters it, alerts only need what it could
    store).

    A point stamped later than *received_ms* (plus :data:`FUTURE_TOLERANCE_MS`) comes from a
    gateway clock that is ahead, e.g. one that jumped forward and came back: the rules take
    it at its arrival. Otherwise, since the engine treats a point older than the last it
    evaluated as history, one status stamped an hour ahead would hide every later status of
    that gateway for an hour, its offline at the stop and its Last Will included (found by
    the clock_jump chaos scenario: the gateway's offline alert never came). The store keeps
    the gateway's own times (ingest writes them as sent)."""
    latest = received_ms + FUTURE_TOLERANCE_MS
    return [
        p if p.time_ms <= latest else replace(p, time_ms=received_ms)
        for p in _points(topic, payload, received_ms)
    ]


def _points(topic: str, payload: bytes, received_ms: int) -> list[Point]:
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != topics.ROOT:
        raise ValueError(f"not a JagaJalan topic: {topic!r}")
    gateway, kind = parts[2], parts[3]
    try:
        if kind == topics.READINGS:
            batch = decode_batch(payload)
            if batch.gateway != gateway:
                raise ValueError(f"payload of gateway {batch.gateway!r} on {topic!r}")
            return batch_to_points(batch)
        if kind == topics.STATUS:
            status = decode_status(payload)
            if status.gateway != gateway:
                raise ValueError(f"payload of gateway {status.gateway!r} on {topic!r}")
            if getattr(status, "doctor", None):
                return []  # a technician's test message (docs/protocol.md)
            time_ms = status.time if status.time is not None else received_ms
            return status_points(status, time_ms)
    except DecodeError as exc:
        raise ValueError(str(exc)) from None
    raise ValueError(f"not a readings or status topic: {topic!r}")


@dataclass
class Evaluator:
    engine: RuleEngine
    lifecycle: Lifecycle
    registry: Engine  # the registry's database: alerts, silences, the outbox
    deliver: Deliver
    leader: Callable[[], bool] = lambda: True
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[Event] = field(default_factory=list)  # events since the last evaluation
    counts: dict[str, int] = field(default_factory=dict)
    #: Each open alert as the database holds it (what was restored or last written), so an
    #: evaluation writes only the alerts it changed, not every open alert every ``--every``.
    saved: dict[str, tuple] = field(default_factory=dict)

    def restore(self) -> int:
        """The open alerts of the database into the lifecycle and the engine (at start, or
        when this instance becomes the leader): the first reading at an alert's level raises
        nothing new. The number restored."""
        alerts = store.open_alerts(self.registry)
        with self.lock:
            self.lifecycle.open = {(a.rule, a.gateway, a.sensor): a for a in alerts}
            self.saved = {a.id: astuple(a) for a in alerts}
            for a in alerts:
                self.engine.restore(a.rule, (a.gateway, a.sensor), a.level, a.since)
        return len(alerts)

    def message(self, topic: str, payload: bytes, received_ms: int) -> None:
        try:
            points = points_of(topic, payload, received_ms)
        except ValueError as exc:
            self._count("messages_refused")
            log.info("event=alerts_message_refused topic=%s error=%r", topic, str(exc)[:200])
            return
        self.observe(points)

    def observe(self, points: Sequence[Point]) -> None:
        with self.lock:
            for point in points:
                self.pending += self.engine.observe(point)
        self._count("points", len(points))

    def evaluate(self, now_s: float) -> list[Notification]:
        """One evaluation; the notifications written (none on a standby)."""
        with self.lock:
            events = [*self.pending, *self.engine.tick(now_s)]
            self.pending = []
            if not self.leader():
                return []
            try:
                notes = self._apply(events, now_s)
            except Exception:
                # The database is away: keep the events for the next evaluation; the caller
                # gives up the lease and restores the lifecycle from the database when it
                # acts again, so nothing is applied twice.
                self.pending = [*events, *self.pending]
                raise
        self._count("events", len(events))
        self._count("notifications", len(notes))
        return notes

    def _apply(self, events: list[Event], now_s: float) -> list[Notification]:
        for alert in store.sync(self.registry, self.lifecycle):
            self.saved[alert.id] = astuple(alert)  # the API or the CLI wrote it already
        silences = store.silences(self.registry, now_s)
        notes: list[Notification] = []
        touched: dict[str, Alert] = {}
        for event in events:
            before = {a.id: a for a in self.lifecycle.open.values()}
            notes += self.lifecycle.apply(event, now_s, silences)
            touched |= {i: a for i, a in before.items() if a.state == "resolved"}
        notes += self.lifecycle.due(now_s, silences)
        touched |= {a.id: a for a in self.lifecycle.open.values()}
        changed = [a for a in touched.values() if self.saved.get(a.id) != astuple(a)]
        if changed or notes:
            with Session(self.registry) as session, session.begin():
                store.save(session, changed)
                self.deliver(session, notes)
        for alert in changed:
            if alert.state == "resolved":
                self.saved.pop(alert.id, None)
            else:
                self.saved[alert.id] = astuple(alert)
        self._count("alerts_written", len(changed))
        for n in notes:
            log.info(
                "event=alerts_notification key=%s contact=%s kind=%s severity=%s level=%s",
                n.key,
                n.contact,
                n.kind,
                n.severity,
                n.level,
            )
        return notes

    def _count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
