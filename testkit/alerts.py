"""Alert rows and their notifications as the alerts service writes them (registry/models.py
``AlertRow``, ``OutboxMessage``), for tests that read alerts back through the registry, the
API or the overview page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.models import AlertRow, OutboxMessage


def alert_row(id_: str, at: dt.datetime, **more: Any) -> AlertRow:
    """A firing warning of the flood rule on gw-a/wl1 raised at *at*; *more* overrides any
    column (state, gateway, sensor, rule, level, severity, value...)."""
    values: dict[str, Any] = dict(
        id=id_,
        rule="genangan",
        gateway="gw-a",
        sensor="wl1",
        level="siaga",
        severity="warning",
        value="21.5",
        state="firing",
        raised_at=at,
        since=at,
        step=0,
        last_told=at,
        seq=1,
    )
    return AlertRow(**(values | more))


def telegram_message(key: str, at: dt.datetime, **more: Any) -> OutboxMessage:
    """A notification to the Telegram address @piket, created and due at *at*, not yet sent;
    *more* overrides any column (state, attempts, sent_at...)."""
    values: dict[str, Any] = dict(
        key=key,
        channel="telegram",
        address="@piket",
        lang="id",
        subject="s",
        body="b",
        data="{}",
        created_at=at,
        due_at=at,
        state="pending",
        attempts=0,
    )
    return OutboxMessage(**(values | more))
