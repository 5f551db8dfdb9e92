"""What people read of the alerts, and their acknowledgement: for the API and ``jagajalan
alerts list|ack``. The alerts service (alerts/) writes the tables ``alerts``,
``alert_outbox`` and ``alert_attempts``; here they are read as plain records, and an
acknowledgement is one conditional UPDATE (only a firing alert), which the service reads back
before its next evaluation. Times are UTC (SQLite drops the zone: put back on read).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from registry.models import AlertRow, OutboxMessage

AckResult = Literal["acknowledged", "already", "resolved", "unknown"]
STATES = ("firing", "acknowledged", "resolved")


def utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class AlertRecord:
    id: str
    rule: str
    gateway: str
    sensor: str
    level: str
    severity: str
    value: str | None
    state: str
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True)
class Delivery:
    """One message of an alert in the outbox and its tries (address left out: a phone
    number or an e-mail address is not for every reader)."""

    key: str
    channel: str
    state: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None


def _record(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        rule=row.rule,
        gateway=row.gateway,
        sensor=row.sensor,
        level=row.level,
        severity=row.severity,
        value=row.value,
        state=row.state,
        raised_at=utc(row.raised_at),  # type: ignore[arg-type]
        resolved_at=utc(row.resolved_at),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=utc(row.acknowledged_at),
    )


def list_alerts(
    engine: Engine,
    state: str | None = None,
    gateway: str | None = None,
    rule: str | None = None,
    limit: int = 100,
) -> list[AlertRecord]:
    """Alerts newest first."""
    query = select(AlertRow).order_by(AlertRow.raised_at.desc(), AlertRow.id).limit(limit)
    for column, value in (
        (AlertRow.state, state),
        (AlertRow.gateway, gateway),
        (AlertRow.rule, rule),
    ):
        if value is not None:
            query = query.where(column == value)
    with Session(engine) as session:
        return [_record(r) for r in session.scalars(query)]


def get_alert(engine: Engine, alert_id: str) -> AlertRecord | None:
    with Session(engine) as session:
        row = session.get(AlertRow, alert_id)
        return None if row is None else _record(row)


def acknowledge(engine: Engine, alert_id: str, who: str, now: dt.datetime) -> AckResult:
    """Acknowledge a firing alert: ``acknowledged``; otherwise ``already`` acknowledged,
    ``resolved``, or ``unknown``."""
    with Session(engine) as session, session.begin():
        done = session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, AlertRow.state == "firing")
            .values(state="acknowledged", acknowledged_by=who, acknowledged_at=now)
        )
        if done.rowcount:
            return "acknowledged"
        state = session.scalar(select(AlertRow.state).where(AlertRow.id == alert_id))
    if state is None:
        return "unknown"
    return "already" if state == "acknowledged" else "resolved"


def deliveries(engine: Engine, alert_id: str) -> list[Delivery]:
    """The outbox's messages of an alert (their keys begin with ``<alert id>#``), oldest
    first, with the number of tries made (the sender counts them in the row; each try is also
    a row of ``alert_attempts``)."""
    prefix = alert_id + "#"
    query = (
        select(OutboxMessage)
        .where(func.substr(OutboxMessage.key, 1, len(prefix)) == prefix)
        .order_by(OutboxMessage.id)
    )
    with Session(engine) as session:
        return [
            Delivery(
                key=m.key,
                channel=m.channel,
                state=m.state,
                attempts=m.attempts,
                created_at=utc(m.created_at),  # type: ignore[arg-type]
                sent_at=utc(m.sent_at),
                last_error=m.last_error,
            )
            for m in session.scalars(query)
        ]
