"""``GET /alerts``, ``POST /alerts/ack`` and ``GET /alerts/deliveries``: the alerts the alerts
service keeps in the registry's database (registry/alerts.py), read by everyone with a key
(public-read group ``alerts``), acknowledged by an operator (or admin), and their messages in
the outbox with their tries (operator or admin: which channels reached whom is not open data).

Alert ids contain ``/`` (``genangan/srl-tembesi-01/wl1@1768208100000``), so they travel in a
query parameter or the body, never in the path. An acknowledgement stops the alert's reminders
and escalation within one evaluation of the service.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from api.access import Caller
from api.auth import requires
from api.deps import RegistryDep
from api.errors import INVALID_REQUEST, REGISTRY_ERRORS
from api.models import ErrorResponse
from kernel.times import utc_iso, wib_iso
from registry import alerts

router = APIRouter(tags=["alerts"])

ALERT_ID = "genangan/srl-tembesi-01/wl1@1768208100000"
TIME = "ISO 8601 time in UTC with a Z suffix, millisecond precision"
TIME_WIB = "the same instant in WIB (Asia/Jakarta, +07:00), for people"
RAISED, RAISED_WIB = "2026-01-12T08:55:00.000Z", "2026-01-12T15:55:00.000+07:00"
ACKED, SENT = "2026-01-12T09:02:10.000Z", "2026-01-12T08:55:03.000Z"
BODY = {400: {"model": ErrorResponse, "description": "the body is not JSON"}}
NO_ALERT = {404: {"model": ErrorResponse, "description": "no such alert"}}
NOT_FIRING = {409: {"model": ErrorResponse, "description": "the alert is not firing"}}


class AlertPublic(BaseModel):
    id: str = Field(description="the alert's id", examples=[ALERT_ID])
    rule: str = Field(description="the rule (examples/alerts.toml)", examples=["genangan"])
    gateway: str = Field(description="the gateway", examples=["srl-tembesi-01"])
    sensor: str = Field(description="the sensor; empty for a gateway's own alert", examples=["wl1"])
    level: str = Field(description="the level now (a one-step rule: raised)", examples=["siaga"])
    severity: str = Field(description="info, warning or critical", examples=["warning"])
    value: str | None = Field(description="the value that changed it last", examples=["21.5"])
    state: str = Field(description="firing, acknowledged or resolved", examples=["firing"])
    raised_at: str = Field(description=f"when it was raised; {TIME}", examples=[RAISED])
    raised_at_wib: str = Field(description=TIME_WIB, examples=[RAISED_WIB])
    resolved_at: str | None = Field(description=f"when it ended; {TIME}", examples=[None])
    acknowledged_by: str | None = Field(description="who acknowledged it", examples=["piket"])
    acknowledged_at: str | None = Field(description=f"when; {TIME}", examples=[ACKED])


class AckBody(BaseModel):
    alert: str = Field(
        min_length=1, max_length=300, description="the alert's id", examples=[ALERT_ID]
    )


class Acknowledged(BaseModel):
    alert: str = Field(description="the alert's id", examples=[ALERT_ID])
    acknowledged_by: str = Field(description="the key's name", examples=["piket-pupr"])
    acknowledged_at: str = Field(description=TIME, examples=[ACKED])


class DeliveryPublic(BaseModel):
    key: str = Field(
        description="the message's idempotency key (sent with it)",
        examples=[f"{ALERT_ID}#1:piket-pupr/telegram"],
    )
    channel: str = Field(
        description="email, webhook, mqtt, telegram, whatsapp or sms", examples=["telegram"]
    )
    status: str = Field(description="pending, sent or failed (for good)", examples=["sent"])
    attempts: int = Field(description="tries recorded", examples=[1])
    created_at: str = Field(description=f"written to the outbox; {TIME}", examples=[RAISED])
    sent_at: str | None = Field(description=f"accepted by the channel; {TIME}", examples=[SENT])
    last_error: str | None = Field(
        description="the last failure's text (never a secret)", examples=[None]
    )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc_iso(int(value.timestamp() * 1000))


def _public(a: alerts.AlertRecord) -> AlertPublic:
    ms = int(a.raised_at.timestamp() * 1000)
    return AlertPublic(
        id=a.id,
        rule=a.rule,
        gateway=a.gateway,
        sensor=a.sensor,
        level=a.level,
        severity=a.severity,
        value=a.value,
        state=a.state,
        raised_at=utc_iso(ms) or "",
        raised_at_wib=wib_iso(ms) or "",
        resolved_at=_iso(a.resolved_at),
        acknowledged_by=a.acknowledged_by,
        acknowledged_at=_iso(a.acknowledged_at),
    )


@router.get(
    "/alerts",
    response_model=list[AlertPublic],
    summary="Alerts, newest first",
    responses={**INVALID_REQUEST, **REGISTRY_ERRORS},
)
def list_alerts(
    registry: RegistryDep,
    state: Annotated[
        Literal["firing", "acknowledged", "resolved"] | None,
        Query(description="only alerts in this state", examples=["firing"]),
    ] = None,
    gateway: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
            description="only this gateway's",
            examples=["srl-tembesi-01"],
        ),
    ] = None,
    rule: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z][a-z0-9_-]{0,63}$",
            description="only this rule's",
            examples=["genangan"],
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="at most this many", examples=[20])
    ] = 100,
) -> list[AlertPublic]:
    """Newest first; firing ones are what the overview page shows."""
    rows = alerts.list_alerts(registry.engine, state=state, gateway=gateway, rule=rule, limit=limit)
    return [_public(a) for a in rows]


@router.post(
    "/alerts/ack",
    response_model=Acknowledged,
    summary="Acknowledge a firing alert (operator or admin)",
    responses={**BODY, **NO_ALERT, **NOT_FIRING, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def acknowledge(
    body: Annotated[AckBody, Body()],
    registry: RegistryDep,
    who: Annotated[Caller, requires("operator")],
) -> Acknowledged:
    """Its reminders and escalation stop within one evaluation of the alerts service; a step
    up of its level opens it again. 409 when it is acknowledged already or resolved."""
    now = dt.datetime.now(dt.UTC)
    result = alerts.acknowledge(registry.engine, body.alert, who.name, now)
    if result == "unknown":
        raise HTTPException(404, f"there is no alert {body.alert!r}; GET /alerts lists them")
    if result != "acknowledged":
        raise HTTPException(409, f"the alert {body.alert!r} is {result} already: nothing to do")
    return Acknowledged(alert=body.alert, acknowledged_by=who.name, acknowledged_at=_iso(now) or "")


@router.get(
    "/alerts/deliveries",
    response_model=list[DeliveryPublic],
    summary="An alert's messages and their tries (operator or admin)",
    dependencies=[requires("operator")],
    responses={**NO_ALERT, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def deliveries(
    registry: RegistryDep,
    alert: Annotated[
        str, Query(min_length=1, max_length=300, description="the alert's id", examples=[ALERT_ID])
    ],
) -> list[DeliveryPublic]:
    """Oldest first: one message per channel of each contact told, and the system channels."""
    if alerts.get_alert(registry.engine, alert) is None:
        raise HTTPException(404, f"there is no alert {alert!r}; GET /alerts lists them")
    return [
        DeliveryPublic(
            key=d.key,
            channel=d.channel,
            status=d.state,
            attempts=d.attempts,
            created_at=_iso(d.created_at) or "",
            sent_at=_iso(d.sent_at),
            last_error=d.last_error,
        )
        for d in alerts.deliveries(registry.engine, alert)
    ]
