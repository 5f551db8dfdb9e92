"""The pure step of ingest: (topic, payload, receive time) -> points to write, or a rejection.

decode (telemetry codec) -> validate (the payload's gateway is the topic's gateway) -> map
(telemetry.mapping). No sockets, no clock, no store: the MQTT glue passes the receive time in.
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry import topics
from telemetry.codec import DecodeError, decode_batch, decode_status
from telemetry.mapping import Point, batch_meta_point, batch_to_points, status_point

#: Rejection reasons added by ingest to the codec's (``empty``, ``not_json``, ...).
BAD_TOPIC = "bad_topic"
GATEWAY_MISMATCH = "gateway_mismatch"


@dataclass(frozen=True, slots=True)
class Accepted:
    kind: str  # topics.READINGS or topics.STATUS
    gateway: str
    points: list[Point]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # metric label: a DecodeError reason, BAD_TOPIC or GATEWAY_MISMATCH
    message: str


def process(topic: str, payload: bytes, received_ms: int) -> Accepted | Rejected:
    """Turn one MQTT message into the points it stands for, or say why it is refused."""
    try:
        gateway, kind = topics.parse(topic)
    except ValueError as exc:
        return Rejected(BAD_TOPIC, str(exc))
    try:
        if kind == topics.READINGS:
            batch = decode_batch(payload)
            if batch.gateway != gateway:
                return _mismatch(batch.gateway, gateway)
            return Accepted(kind, gateway, [*batch_to_points(batch), batch_meta_point(batch)])
        if kind == topics.STATUS:
            status = decode_status(payload)
            if status.gateway != gateway:
                return _mismatch(status.gateway, gateway)
            time_ms = status.time if status.time is not None else received_ms
            return Accepted(kind, gateway, [status_point(gateway, status.state, time_ms)])
    except DecodeError as exc:
        return Rejected(exc.reason, exc.message)
    return Rejected(BAD_TOPIC, f"topic {topic!r}: ingest does not take {kind!r} messages")


def _mismatch(payload_gateway: str, topic_gateway: str) -> Rejected:
    return Rejected(
        GATEWAY_MISMATCH,
        f"payload gateway {payload_gateway!r} published on the topic of {topic_gateway!r}",
    )


def preview(payload: bytes, limit: int = 120) -> str:
    """A short, printable excerpt of a payload for a log line."""
    shown = repr(payload[:limit])
    return shown + (f" ... ({len(payload)} bytes)" if len(payload) > limit else "")
