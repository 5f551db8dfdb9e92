"""The outbox's tables, in the registry's database (migration ``0002_outbox``).

They are declared on the registry's metadata (:class:`registry.models.Base`), so one schema
holds the registry and what the alerts keep; the registry never imports this module (the
layers of pyproject.toml), tests/registry/conftest.py does, to compare the whole schema.

- ``alert_outbox``: one row per message to send (a recipient on one channel), written before
  anything is sent; ``key`` is its idempotency key, unique, and goes with the message.
- ``alert_attempts``: one row per try, written when the try starts (``outcome`` NULL) and
  completed after it: a row left NULL is a sender that died in the middle of sending.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base

#: A notification's states: ``pending`` (to send, or to retry at ``due_at``), ``sent``,
#: ``failed`` (gave up after the configured number of attempts; kept, visible, never deleted).
STATES = ("pending", "sent", "failed")
#: The channels a notification can go out on (alerts/delivery/channels.py).
CHANNELS = ("email", "webhook", "mqtt", "telegram", "whatsapp")


class Notification(Base):
    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(500))
    lang: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)  # the event as JSON (webhook and MQTT payload)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(8), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class Attempt(Base):
    __tablename__ = "alert_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("alert_outbox.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(8))  # sent | failed | NULL: unknown
    error: Mapped[str | None] = mapped_column(Text)
