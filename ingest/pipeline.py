"""The pure step of ingest: (topic, payload, receive time) -> records to write, or a rejection.

decode (telemetry codec) -> validate (the payload's gateway is the topic's gateway) -> map
(telemetry.mapping). No sockets, no clock, no store: the MQTT glue passes the receive time in.

Records are line-protocol lines when an :class:`~telemetry.mapping.LineEncoder` is given (the
InfluxDB path: no Point objects are built), else :class:`~telemetry.mapping.Point` objects
(for stores that take points, such as the embedded SQLite store).

Readings payloads take a fast path first: JSON parsed by pydantic-core's parser and validated
in the same pass. :func:`decode_readings` validates with the same :class:`~telemetry.models.Batch`
model as the codec; :func:`validate_readings` (the InfluxDB path) with :data:`BATCH_DICT`, the
same constraints over TypedDicts, which gives plain dicts (no model object per reading, and the
finite-number check in Rust instead of a Python validator). Whatever a fast path does not accept
goes to :func:`telemetry.codec.decode_batch`, which stays the only judge of what is refused and
why, so a fast path can only ever accept what the codec accepts, and gives the same data
(property tests in tests/test_ingest_pipeline.py hold both to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, StrictInt, TypeAdapter, ValidationError
from pydantic_core import from_json
from typing_extensions import TypedDict

from telemetry import topics
from telemetry.codec import DecodeError, decode_batch, decode_status
from telemetry.mapping import (
    LineEncoder,
    batch_meta_point,
    batch_to_points,
    meta_line,
    status_point,
    to_line,
)
from telemetry.models import PAYLOAD_VERSION, READING_TAGS, Batch, Id, Name, TagValue, TimeMs

#: Rejection reasons added by ingest to the codec's (``empty``, ``not_json``, ...).
BAD_TOPIC = "bad_topic"
GATEWAY_MISMATCH = "gateway_mismatch"
UNENCODABLE = "unencodable"  # valid payload, but a name line protocol cannot carry
INTERNAL = "internal"  # a bug in ingest; the message is dead-lettered, never dropped


@dataclass(frozen=True, slots=True)
class Accepted:
    kind: str  # topics.READINGS or topics.STATUS
    gateway: str
    points: list[Any]  # line-protocol lines (str) with an encoder, else Point objects
    readings: int = 0  # readings in the batch (0 for a status)
    newest_ms: int = 0  # time of the newest reading (or of the status), for the lag metric


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # metric label and dead-letter reason: a DecodeError reason or one above
    message: str
    gateway: str | None = None  # the topic's gateway, when the topic names a valid one


def decode_readings(payload: bytes) -> Batch:
    """:func:`telemetry.codec.decode_batch`, with the fast path described above."""
    if payload[:7] == _V1_START and payload.count(b'"v"') == 1:
        # The one "v" key is the first key and is the integer 1: parse and validate in one
        # pass. Other spellings (whitespace, "v" later or repeated) take the checked path.
        try:
            return Batch.model_validate_json(payload)
        except ValueError:  # pydantic's ValidationError: the codec names the problem
            pass
    elif payload[:1] == b"{":
        try:
            obj = from_json(payload, allow_inf_nan=False)
        except ValueError:
            obj = None
        if type(obj) is dict and type(obj.get("v")) is int and obj["v"] == PAYLOAD_VERSION:
            try:
                return Batch.model_validate(obj)
            except ValidationError:
                pass  # the codec names the problem
    return decode_batch(payload)


_V1_START = b'{"v":1,'

# -- the same constraints as telemetry.models.Batch, over TypedDicts --------------------------

_FORBID = ConfigDict(extra="forbid")
#: Reading.fields: StrictInt | StrictFloat, floats finite (the model's _finite validator)
_Number = StrictInt | Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: Reading.tags: a key of READING_TAGS (the model's _known_tags validator); Literal[tuple] is
#: Literal of the tuple's items
_TagKey = Literal[READING_TAGS]  # type: ignore[valid-type]


class _Reading(TypedDict):
    __pydantic_config__ = _FORBID  # type: ignore[misc]
    sensor: Id
    measurement: Name
    time: TimeMs
    fields: Annotated[dict[Name, _Number], Field(min_length=1, max_length=64)]
    tags: NotRequired[dict[_TagKey, TagValue]]


class _Batch(TypedDict):
    __pydantic_config__ = _FORBID  # type: ignore[misc]
    v: NotRequired[Literal[1]]
    gateway: Id
    seq: Annotated[int, Field(ge=0, strict=True)]
    sent: TimeMs
    readings: Annotated[list[_Reading], Field(min_length=1, max_length=10_000)]


BATCH_DICT = TypeAdapter(_Batch)


def validate_readings(payload: bytes) -> dict[str, Any]:
    """:func:`telemetry.codec.decode_batch`'s decision on *payload*, the accepted batch as
    plain dicts and lists (keys of :class:`~telemetry.models.Batch`; a reading without tags
    has no ``tags`` key). Raises :class:`~telemetry.codec.DecodeError` like the codec."""
    if payload[:7] == _V1_START and payload.count(b'"v"') == 1:
        try:
            return BATCH_DICT.validate_json(payload)
        except ValueError:  # pydantic's ValidationError: the codec names the problem
            pass
    return decode_readings(payload).model_dump()


def process(
    topic: str, payload: bytes, received_ms: int, encoder: LineEncoder | None = None
) -> Accepted | Rejected:
    """Turn one MQTT message into the records it stands for, or say why it is refused."""
    try:
        gateway, kind = topics.parse(topic)
    except ValueError as exc:
        return Rejected(BAD_TOPIC, str(exc))
    try:
        if kind == topics.READINGS:
            records: list[Any]
            if encoder is not None:
                data = validate_readings(payload)
                if data["gateway"] != gateway:
                    return _mismatch(data["gateway"], gateway)
                readings = data["readings"]
                records, newest = encoder.reading_lines(gateway, readings)
                records.append(meta_line(gateway, data["seq"], len(readings), data["sent"]))
                return Accepted(kind, gateway, records, len(readings), newest)
            batch = decode_readings(payload)
            if batch.gateway != gateway:
                return _mismatch(batch.gateway, gateway)
            newest = max([r.time for r in batch.readings])
            records = [*batch_to_points(batch), batch_meta_point(batch)]
            return Accepted(kind, gateway, records, len(batch.readings), newest)
        if kind == topics.STATUS:
            status = decode_status(payload)
            if status.gateway != gateway:
                return _mismatch(status.gateway, gateway)
            time_ms = status.time if status.time is not None else received_ms
            point = status_point(gateway, status.state, time_ms)
            record = to_line(point) if encoder is not None else point
            return Accepted(kind, gateway, [record], 0, time_ms)
    except DecodeError as exc:
        return Rejected(exc.reason, exc.message, gateway)
    except ValueError as exc:  # a name or value line protocol cannot carry
        return Rejected(UNENCODABLE, str(exc), gateway)
    return Rejected(BAD_TOPIC, f"topic {topic!r}: ingest does not take {kind!r} messages", gateway)


def _mismatch(payload_gateway: str, topic_gateway: str) -> Rejected:
    return Rejected(
        GATEWAY_MISMATCH,
        f"payload gateway {payload_gateway!r} published on the topic of {topic_gateway!r}",
        topic_gateway,
    )


def preview(payload: bytes, limit: int = 120) -> str:
    """A short, printable excerpt of a payload for a log line."""
    shown = repr(payload[:limit])
    return shown + (f" ... ({len(payload)} bytes)" if len(payload) > limit else "")
