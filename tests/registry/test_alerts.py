"""registry/alerts.py on both databases: alerts newest first with filters, an acknowledgement
only of a firing alert, and an alert's messages in the outbox with their tries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from registry import db
from registry.alerts import acknowledge, deliveries, get_alert, list_alerts
from registry.models import AlertRow, OutboxAttempt
from testkit.alerts import alert_row, telegram_message
from tests.registry.conftest import Database

T = dt.datetime(2026, 1, 12, 8, 0, tzinfo=dt.UTC)


def alert(id_: str, state: str, minutes: int, gateway: str = "gw-a") -> AlertRow:
    return alert_row(id_, T + dt.timedelta(minutes=minutes), state=state, gateway=gateway)


def test_alerts_read_and_acknowledged(database: Database) -> None:
    db.upgrade(database.engine)
    with Session(database.engine) as session, session.begin():
        session.add_all([alert("a1", "firing", 0), alert("a2", "resolved", 5, "gw-b")])
        session.add_all([alert("a_%", "firing", 10)])  # LIKE's wildcards in an id
        message = telegram_message("a1#1:piket/telegram", T, state="sent", attempts=2, sent_at=T)
        other = telegram_message("a_%#1:piket/telegram", T)
        session.add_all([message, other])
        session.flush()
        for n in (1, 2):
            session.add(
                OutboxAttempt(
                    notification_id=message.id,
                    number=n,
                    worker="w",
                    started_at=T,
                    outcome="sent" if n == 2 else "failed",
                )
            )
    assert [a.id for a in list_alerts(database.engine)] == ["a_%", "a2", "a1"]
    assert [a.id for a in list_alerts(database.engine, state="firing", gateway="gw-a")] == [
        "a_%",
        "a1",
    ]
    first = get_alert(database.engine, "a1")
    assert first is not None and first.raised_at == T and first.raised_at.tzinfo is not None
    (sent,) = deliveries(database.engine, "a1")
    assert (sent.channel, sent.state, sent.attempts) == ("telegram", "sent", 2)  # the row's count
    assert [d.key for d in deliveries(database.engine, "a_%")] == ["a_%#1:piket/telegram"]
    assert acknowledge(database.engine, "a1", "piket", T) == "acknowledged"
    assert acknowledge(database.engine, "a1", "other", T) == "already"
    assert acknowledge(database.engine, "a2", "piket", T) == "resolved"
    assert acknowledge(database.engine, "nope", "piket", T) == "unknown"
    acked = get_alert(database.engine, "a1")
    assert acked is not None and (acked.state, acked.acknowledged_by) == ("acknowledged", "piket")
