"""The durable outbox: notifications are written down before anything is sent, claimed by one
sender at a time, and every attempt is recorded.

Guarantees (docs/alerts.md, "Delivery guarantees"):

- **Nothing is lost.** :func:`enqueue` commits the notification (recipient, text, idempotency
  key, due time) in the registry's database before any channel is touched; a row leaves
  ``pending`` only when a channel has accepted it (``sent``) or after ``max_attempts`` tries
  (``failed``, kept and visible). A receiver that is down only pushes ``due_at`` back
  (exponential backoff with a cap), across restarts: the schedule is in the row, not in memory.
- **One sender at a time, several instances safe.** :func:`claim` takes due rows with a
  compare-and-set ``UPDATE ... WHERE lease_until IS NULL OR lease_until < now`` in one
  transaction (SQLite and PostgreSQL alike); a claim holds a lease of ``lease_s``, renewed by
  :func:`begin` right before each send, which also records the attempt's start and sends
  nothing when the claim was taken over (``lease_s`` must exceed a channel's timeout). A sender
  that dies holding a lease (killed between sending and recording) leaves the row ``pending``:
  once the lease has expired another claim retries it, with the same idempotency key.
- **At least once, with a key to drop duplicates.** That retry is the one case where a message
  can reach a receiver twice; the key goes with the message (channels.py says how per channel),
  so a receiver that remembers keys sees it once. The attempt left without an outcome shows
  what happened.

Times come from the caller (``now``, UTC), so tests run on an accelerated clock; instances
share a database, so their clocks must agree within a small part of ``lease_s`` (NTP).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.models import OUTBOX_CHANNELS, OutboxAttempt, OutboxMessage

UTC = dt.UTC


@dataclass(frozen=True)
class Policy:
    """Retry schedule: attempt *n* failed -> next try after ``min(cap_s, base_s * 2**(n-1))``."""

    base_s: float = 5.0
    cap_s: float = 900.0
    max_attempts: int = 50
    lease_s: float = 60.0

    def backoff(self, attempts: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Outgoing:
    """A message to write down: the recipient on one channel, its text, its key."""

    key: str
    channel: str
    address: str
    subject: str
    body: str
    data: Mapping[str, Any]
    lang: str = "id"
    due: dt.datetime | None = None  # None: at once (quiet hours move a warning's)


@dataclass(frozen=True)
class Claimed:
    """A notification this sender holds the lease of, with the attempt it has started."""

    id: int
    key: str
    channel: str
    address: str
    subject: str
    body: str
    data: str
    lang: str
    attempt: int  # this try's number, 1 for the first


@dataclass(frozen=True)
class AttemptRow:
    """An attempt as the API shows it (outcome None: the sender died during it)."""

    key: str
    channel: str
    number: int
    worker: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str | None
    error: str | None


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time read back as UTC (SQLite keeps no zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(message: Outgoing, now: dt.datetime) -> OutboxMessage:
    if message.channel not in OUTBOX_CHANNELS:
        raise ValueError(f"unknown channel {message.channel!r}; channels: {list(OUTBOX_CHANNELS)}")
    return OutboxMessage(
        key=message.key,
        channel=message.channel,
        address=message.address,
        lang=message.lang,
        subject=message.subject,
        body=message.body,
        data=json.dumps(dict(message.data), ensure_ascii=False, sort_keys=True),
        created_at=now,
        due_at=message.due or now,
        state="pending",
        attempts=0,
    )


def write(session: Session, messages: Iterable[Outgoing], now: dt.datetime) -> list[int]:
    """Writes *messages* down in the caller's transaction (the alerts service writes an
    alert's new state and its notifications together: both or neither). A key already in the
    outbox is skipped. Two writers racing on one key (the alerts service lets one instance
    write at a time) make the later transaction fail whole: nothing half-written. The ids."""
    todo = list(messages)
    keys = [m.key for m in todo]
    there = set(session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(keys))))
    rows = []
    for message in todo:
        if message.key not in there:
            there.add(message.key)
            rows.append(_row(message, now))
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def enqueue(engine: Engine, messages: Iterable[Outgoing], now: dt.datetime) -> list[int]:
    """Writes *messages* down, each in a transaction of its own (a key already there, or
    written by another instance at the same moment, is skipped). The ids written."""
    written: list[int] = []
    for message in messages:
        try:
            with Session(engine) as session, session.begin():
                written += write(session, [message], now)
        except IntegrityError:
            continue  # the key is there already
    return written


def claim(
    engine: Engine, worker: str, now: dt.datetime, policy: Policy, limit: int = 20
) -> list[Claimed]:
    """Takes up to *limit* due notifications for *worker*: each gets a lease until
    ``now + lease_s``. Call :func:`begin` right before sending each."""
    lease = now + dt.timedelta(seconds=policy.lease_s)
    free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    taken: list[Claimed] = []
    with Session(engine) as session, session.begin():
        ids = session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == "pending", OutboxMessage.due_at <= now, free)
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
        ).all()
        for nid in ids:
            won = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == nid, OutboxMessage.state == "pending", free)
                .values(claimed_by=worker, lease_until=lease)
            )
            if won.rowcount != 1:
                continue  # another instance took it first
            row = session.get(OutboxMessage, nid, populate_existing=True)
            assert row is not None
            taken.append(
                Claimed(
                    row.id,
                    row.key,
                    row.channel,
                    row.address,
                    row.subject,
                    row.body,
                    row.data,
                    row.lang,
                    row.attempts + 1,
                )
            )
    return taken


def begin(engine: Engine, item: Claimed, worker: str, now: dt.datetime, policy: Policy) -> bool:
    """Starts *item*'s attempt, right before sending: counts it, records its start and renews
    the lease, in one transaction, only while *worker* still holds the claim (False: another
    instance took it over after the lease expired; do not send)."""
    with Session(engine) as session, session.begin():
        held = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == item.id,
                OutboxMessage.state == "pending",
                OutboxMessage.claimed_by == worker,
                OutboxMessage.attempts == item.attempt - 1,
            )
            .values(
                attempts=item.attempt,
                lease_until=now + dt.timedelta(seconds=policy.lease_s),
            )
        )
        if held.rowcount != 1:
            return False
        session.add(
            OutboxAttempt(
                notification_id=item.id, number=item.attempt, worker=worker, started_at=now
            )
        )
    return True


def record(
    engine: Engine,
    item: Claimed,
    worker: str,
    now: dt.datetime,
    policy: Policy,
    error: str | None = None,
) -> str:
    """Completes *item*'s attempt: sent (*error* None), or failed and due again after the
    backoff (``failed`` for good after ``max_attempts``). Returns the notification's state.
    A sender whose lease was taken over in the meantime records its attempt only."""
    with Session(engine) as session, session.begin():
        attempt = session.scalars(
            select(OutboxAttempt).where(
                OutboxAttempt.notification_id == item.id,
                OutboxAttempt.number == item.attempt,
                OutboxAttempt.worker == worker,
            )
        ).one()
        attempt.finished_at = now
        attempt.outcome = "sent" if error is None else "failed"
        attempt.error = error
        row = session.get(OutboxMessage, item.id)
        assert row is not None
        if row.claimed_by != worker or row.attempts != item.attempt or row.state != "pending":
            return row.state
        row.claimed_by = None
        row.lease_until = None
        if error is None:
            row.state, row.sent_at, row.last_error = "sent", now, None
        else:
            row.last_error = error
            if item.attempt >= policy.max_attempts:
                row.state = "failed"
            else:
                row.due_at = now + dt.timedelta(seconds=policy.backoff(item.attempt))
        return row.state


def attempts(engine: Engine, key: str | None = None, limit: int = 100) -> list[AttemptRow]:
    """The newest attempts first (of one notification, by its *key*): what the API shows."""
    query = (
        select(OutboxMessage.key, OutboxMessage.channel, OutboxAttempt)
        .join(OutboxAttempt, OutboxAttempt.notification_id == OutboxMessage.id)
        .order_by(OutboxAttempt.id.desc())
        .limit(limit)
    )
    if key is not None:
        query = query.where(OutboxMessage.key == key)
    with Session(engine) as session:
        return [
            AttemptRow(
                k,
                channel,
                a.number,
                a.worker,
                utc(a.started_at),
                utc(a.finished_at),
                a.outcome,
                a.error,
            )  # type: ignore[arg-type]
            for k, channel, a in session.execute(query).all()
        ]


def counts(engine: Engine) -> dict[str, int]:
    """Notifications per state (every state present, 0 when none)."""
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    return {state: 0 for state in ("pending", "sent", "failed")} | {s: n for s, n in rows}


def next_due(engine: Engine) -> dt.datetime | None:
    """When the next pending notification is due (its lease's end when one holds it)."""
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxMessage.due_at, OutboxMessage.lease_until).where(
                OutboxMessage.state == "pending"
            )
        ).all()
    times = [max(utc(d), utc(lease) or utc(d)) for d, lease in rows]  # type: ignore[type-var]
    return min(times) if times else None
