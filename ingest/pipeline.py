"""The pure step of ingest: (topic, payload, receive time) -> records to write, or a rejection.

decode (telemetry codec) -> validate (the payload's gateway is the topic's gateway) -> map
(telemetry.mapping). No sockets, no clock, no store: the MQTT glue passes the receive time in.

Records are line-protocol lines when an :class:`~telemetry.line_encoder.LineEncoder` is given (the
InfluxDB path: no Point objects are built), else :class:`~telemetry.mapping.Point` objects
(for stores that take points, such as the embedded SQLite store).

Readings payloads take a fast path first. The InfluxDB path: ``ingest._json_lines``
(ingest/_json_lines.c) reads a batch in the layout gateways write straight into lines, in C,
and leaves anything else (whitespace, escapes, exponents, a name it has not seen checked) to
the Python paths below; where the module is not compiled (a gateway without a compiler),
those do it all. Then :func:`fast_batch` parses and
checks the JSON in C (msgspec) into plain structs, and the
:class:`~telemetry.line_encoder.LineEncoder` checks the names once per series, so no Python
code runs per reading except the encoder's loop. The Point path: :func:`decode_readings` parses
with pydantic-core and validates with the codec's own :class:`~telemetry.models.Batch` model in
the same pass. Whatever a fast path does not accept goes to
:func:`telemetry.codec.decode_batch`, which stays the only judge of what is refused and why, so
a fast path can only ever accept what the codec accepts, and gives the same data (property
tests in tests/ingest/test_pipeline.py hold both to that).
Compact (v2) payloads on the InfluxDB path take :func:`ingest.compact_path.compact_lines`
first, under the same rule.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from pydantic import ValidationError
from pydantic_core import from_json

from ingest.compact_path import compact_lines
from telemetry import compact, topics
from telemetry.codec import DecodeError, decode_batch, decode_status
from telemetry.line_block import LineBlock
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import (
    batch_meta_line,
    batch_meta_point,
    batch_to_points,
    format_float,
    meta_line,
    status_points,
    to_line,
)
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, PAYLOAD_VERSION, Batch

try:  # compiled by the install (setup.py); not on a gateway without a compiler: pure Python
    from ingest import _json_lines
except ImportError:  # pragma: no cover - the pure-Python path below does the same
    _json_lines = None

#: Many readings messages of a receive buffer at once, in C (ingest/_json_take.h): what
#: ingest/service.py's ``_take`` calls; None where the module is not built.
take = _json_lines.take if _json_lines is not None else None

#: Rejection reasons added by ingest to the codec's (``empty``, ``not_json``, ...;
#: ``reserved_id`` also for a topic whose gateway level is a reserved id).
BAD_TOPIC = "bad_topic"
GATEWAY_MISMATCH = "gateway_mismatch"
UNENCODABLE = "unencodable"  # valid payload, but a name line protocol cannot carry
INTERNAL = "internal"  # a bug in ingest; the message is dead-lettered, never dropped


# Not frozen: one is made for every message, and a frozen dataclass's __init__ (one
# object.__setattr__ a field) costs 0.6 us against 0.18 (issue 16).
@dataclass(slots=True)
class Accepted:
    kind: str  # topics.READINGS or topics.STATUS
    gateway: str
    points: Sequence[Any]  # lines with an encoder (a list, or a LineBlock), else Point objects
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
_COMPACT = bytes((compact.MAGIC,))

# -- ingest's fast path: the numbers checked in C ---------------------------------------------
#
# The same constraints as telemetry.models.Batch on everything but the names: msgspec checks
# the structure, the unknown keys, the types, the ranges (times; floats finite: +-inf fails the
# bounds, NaN every comparison) and the lengths while it parses. Names and tags, reserved
# measurements included, are checked by the LineEncoder, once per series (its template
# cache); the gateway must be the topic's, which topics.parse checked (reserved ids too).
# Float fields are read as floats (an integer given for one becomes a float, as the mapping
# does); counts are made ints again by the encoder, exactly (or it hands the batch to the
# codec).

_TimeMs = Annotated[int, Meta(ge=MIN_TIME_MS, lt=MAX_TIME_MS)]
_Finite = Annotated[float, Meta(ge=-sys.float_info.max, le=sys.float_info.max)]


# gc=False: the garbage collector does not track these (50 structs a batch of 50 would add to
# every young-generation collection); they hold strings, numbers and dicts of those: no cycles.
class WireReading(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    sensor: str
    measurement: str
    time: _TimeMs
    fields: Annotated[dict[str, _Finite], Meta(min_length=1, max_length=64)]
    tags: dict[str, str] = {}


class WireBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    v: Literal[1]
    gateway: str
    seq: Annotated[int, Meta(ge=0)]
    sent: _TimeMs
    readings: Annotated[list[WireReading], Meta(min_length=1, max_length=10_000)]


_WIRE = msgspec.json.Decoder(WireBatch)


def fast_batch(payload: bytes) -> WireBatch | None:
    """The batch of a v1 JSON payload whose structure and numbers are as the contract says,
    or None: then only :func:`telemetry.codec.decode_batch` may judge it. Names are not
    checked here (see above)."""
    if payload[:1] != b"{":
        return None
    try:
        return _WIRE.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def process(
    topic: str,
    payload: bytes,
    received_ms: int,
    encoder: LineEncoder | None = None,
    joined: bool = False,
) -> Accepted | Rejected:
    """Turn one MQTT message into the records it stands for, or say why it is refused. With
    an *encoder*, the records are lines: a list, or with *joined* one
    :class:`~telemetry.line_block.LineBlock` (what the worker holds and writes; the fast
    paths in C then write the block's text at once)."""
    done = _process(topic, payload, received_ms, encoder, joined)
    if joined and type(done) is Accepted and type(done.points) is list:  # a status, a slow path
        return Accepted(
            done.kind, done.gateway, LineBlock.of(done.points), done.readings, done.newest_ms
        )
    return done


#: topics.parse of the topics met (pure; errors are not kept): a gateway publishes on the same
#: two topics, so a district's are a few thousand, ~150 bytes each.
_parse_topic = lru_cache(maxsize=16_384)(topics.parse)


def _process(
    topic: str, payload: bytes, received_ms: int, encoder: LineEncoder | None, joined: bool
) -> Accepted | Rejected:
    try:
        gateway, kind = _parse_topic(topic)
    except topics.ReservedId as exc:  # a dead-letter topic, or a service user's own subtree
        return Rejected(exc.reason, str(exc))
    except ValueError as exc:
        return Rejected(BAD_TOPIC, str(exc))
    try:
        if kind == topics.READINGS:
            records: list[Any]
            if encoder is not None:
                if payload[:1] == _COMPACT:
                    done = compact_lines(payload, gateway, encoder, joined)
                    if done is not None:
                        return Accepted(kind, gateway, *done)
                if _json_lines is not None and payload[:1] == b"{":
                    done = _json_lines.lines(payload, gateway, encoder.series, format_float, joined)
                    if done is not None:
                        lines, n, newest, seq, sent = done
                        meta = meta_line(gateway, seq, n, sent)
                        if joined:
                            return Accepted(
                                kind, gateway, LineBlock(f"{lines}\n{meta}", n + 1), n, newest
                            )
                        lines.append(meta)
                        return Accepted(kind, gateway, lines, n, newest)
                fast = fast_batch(payload)
                if fast is not None and fast.gateway == gateway:
                    try:
                        lines, newest = encoder.reading_lines(gateway, fast.readings)
                    except InvalidName:
                        pass  # the codec names the problem below
                    else:
                        n = len(fast.readings)
                        lines.append(meta_line(gateway, fast.seq, n, fast.sent))
                        return Accepted(kind, gateway, lines, n, newest)
                batch = decode_batch(payload)
                if batch.gateway != gateway:
                    return _mismatch(batch.gateway, gateway)
                lines = [*encoder.batch_lines(batch), batch_meta_line(batch)]
                newest = max([r.time for r in batch.readings])
                return Accepted(kind, gateway, lines, len(batch.readings), newest)
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
            points = status_points(status, time_ms)
            records = [to_line(p) for p in points] if encoder is not None else points
            return Accepted(kind, gateway, records, 0, time_ms)
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
