"""Payload version 2: the compact binary encoding of a readings batch, for paid cellular links.

Pure functions, no I/O; the format is specified in docs/protocol.md (section 2.4). In short:
a 3-byte header (marker ``0xC1``, which never starts UTF-8 text and is "never used" in
MessagePack; version ``2``; flags, bit 0 = zlib) and a MessagePack body
``[gateway, seq, sent, strings, schemas, [t0, unit], rows]``.

``strings`` holds every id and name once; a *schema* ``[sensor, measurement, [field...],
[decimals...], [tag_key, tag_value, ...]]`` refers to them by index and stands for the readings
of one series; ``rows`` is one flat array of ``schema, dt, value...`` per reading, with the time
the previous reading's (``t0`` first) plus ``dt * unit`` ms (``unit``: the largest step all
times share, so a fixed poll interval makes each ``dt`` a one-byte 1).

Values come back exactly (bit-identical floats; ints stay ints). With ``decimals[j]`` nil a
value goes as itself (an int as an int; a float as float32 when that holds it exactly, else
float64; an int beyond 64 bits as extension type 1). With ``k`` (0-9) a float ``x`` goes as
the change of ``n`` since that schema's previous reading (from 0), where ``x == n / 10**k``
(Python's exactly rounded division), so a slowly changing sensor costs about a byte a value;
a float that is no such decimal goes as itself and leaves ``n`` alone.

Decoding gives the plain object the JSON path would, so :mod:`telemetry.codec` validates both
with one model. Malformed bytes raise :class:`CompactError`, reason ``truncated`` (the payload
ends early), ``corrupt`` (not a well-formed compact payload) or ``unsupported_version``.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import msgpack

from telemetry.models import COMPACT_PAYLOAD_VERSION, PAYLOAD_VERSION, Batch

MAGIC = 0xC1
HEADER_SIZE = 3
FLAG_ZLIB = 0x01
KNOWN_FLAGS = FLAG_ZLIB
SUPPORTED_VERSIONS = (COMPACT_PAYLOAD_VERSION,)
#: Most decimals a decimal column may use; the Modbus profiles round to 6.
MAX_DECIMALS = 9
#: MessagePack extension type of an integer beyond 64 bits (big-endian two's complement).
EXT_BIG_INT = 1
#: Largest body a compressed payload may inflate to (a batch of 10,000 readings with many
#: fields stays far below): a few hundred bytes must not expand into gigabytes.
MAX_INFLATED = 16 * 1024 * 1024
#: Readings built before giving up on an oversized batch (the model allows 10,000).
_MAX_ROWS = 10_001

_F32 = struct.Struct(">f")
_PACK_F32 = struct.Struct(">Bf")
#: Bound of a decimal's integer, so that the change between two of them fits in 64 bits.
_MAX_N = 2**62
_MAX_TIME = 2**63
_POW10 = [10**k for k in range(MAX_DECIMALS + 1)]
_BODY_ITEMS = ("gateway", "seq", "sent", "strings", "schemas", "time", "rows")


class CompactError(ValueError):
    """A compact payload that cannot be read; ``reason`` names the kind of problem."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def is_compact(payload: bytes) -> bool:
    return payload[:1] == bytes((MAGIC,))


# -- encoding ----------------------------------------------------------------------------------


def encode(batch: Batch, compress: bool | None = None) -> bytes:
    """Encode *batch* as payload version 2. ``compress``: None = zlib when it is smaller."""
    strings, schemas, order, plans = _tables(batch)
    t0 = batch.readings[0].time
    unit = 0
    for r in batch.readings:
        unit = math.gcd(unit, r.time - t0)
    unit = unit or 1
    packer = msgpack.Packer(use_bin_type=True)
    pack = packer.pack
    body = b"".join(
        [
            packer.pack_array_header(len(_BODY_ITEMS)),
            pack(batch.gateway),
            _pack_value(batch.seq, pack),
            pack(batch.sent),
            pack(strings),
            pack(schemas),
            pack([t0, unit]),
            _rows(batch, order, plans, t0, unit, packer),
        ]
    )
    raw = bytes((MAGIC, COMPACT_PAYLOAD_VERSION, 0)) + body
    if compress is False:
        return raw
    packed = bytes((MAGIC, COMPACT_PAYLOAD_VERSION, FLAG_ZLIB)) + zlib.compress(body)
    return packed if compress or len(packed) < len(raw) else raw


def _tables(batch: Batch) -> tuple[list[str], list[list[Any]], list[int], list[list[list[Any]]]]:
    """The strings, the schemas (with each field's decimals), each reading's schema, and per
    schema and field the values as planned by :func:`_plan_column`."""
    strings: dict[str, int] = {}

    def sid(text: str) -> int:
        return strings.setdefault(text, len(strings))

    keys: dict[tuple, int] = {}
    schemas: list[list[Any]] = []
    columns: list[list[list[Any]]] = []  # schema -> field -> values in reading order
    order: list[int] = []
    for r in batch.readings:
        key = (r.sensor, r.measurement, tuple(r.fields), tuple(r.tags.items()))
        index = keys.get(key)
        if index is None:
            index = keys[key] = len(schemas)
            schema = [sid(r.sensor), sid(r.measurement), [sid(name) for name in r.fields], []]
            schema.append([sid(part) for item in r.tags.items() for part in item])
            schemas.append(schema)
            columns.append([[] for _ in r.fields])
        order.append(index)
        for column, value in zip(columns[index], r.fields.values(), strict=True):
            column.append(value)
    plans = []
    for schema, cols in zip(schemas, columns, strict=True):
        plan = []
        for col in cols:
            k, values = _plan_column(col)
            schema[3].append(k)
            plan.append(values)
        plans.append(plan)
    return list(strings), schemas, order, plans


def _rows(
    batch: Batch, order: list[int], plans: list[list[list[Any]]], t0: int, unit: int, packer: Any
) -> bytes:
    """The rows array, packed."""
    items: list[Any] = []
    exact = []  # positions of values sent as themselves
    cursor = [0] * len(plans)  # per schema: readings written so far
    last = [[0] * len(plan) for plan in plans]  # per schema and field: the running n
    previous = t0
    for r, index in zip(batch.readings, order, strict=True):
        i = cursor[index]
        cursor[index] = i + 1
        items.append(index)
        items.append((r.time - previous) // unit)
        previous = r.time
        running = last[index]
        for j, column in enumerate(plans[index]):
            item = column[i]
            if type(item) is int:  # a decimal's n: send the change
                items.append(item - running[j])
                running[j] = item
            else:
                exact.append(len(items))
                items.append(item[0])
    if all(type(items[k]) is int and -(2**63) <= items[k] < 2**64 for k in exact):
        return packer.pack(items)  # plain integers: one call
    pack = packer.pack
    special = set(exact)
    out = [packer.pack_array_header(len(items))]
    out += [_pack_value(v, pack) if k in special else pack(v) for k, v in enumerate(items)]
    return b"".join(out)


def _pack_value(value: int | float, pack: Any) -> bytes:
    """A value as itself: float32 when exact, else float64; ints beyond 64 bits (which the
    model allows) as extension type 1 holding the two's-complement bytes."""
    if type(value) is float:
        try:
            if _F32.unpack(_F32.pack(value))[0] == value:
                return _PACK_F32.pack(0xCA, value)
        except OverflowError:
            pass
    elif type(value) is int and not -(2**63) <= value < 2**64:
        size = (value.bit_length() + 8) // 8
        return pack(msgpack.ExtType(EXT_BIG_INT, value.to_bytes(size, "big", signed=True)))
    return pack(value)


def _plan_column(values: list[Any]) -> tuple[int | None, list[Any]]:
    """Choose a column's decimals; values become ``n`` (int) or ``(value,)`` sent as is.

    The decimals are the most any value needs, unless fewer than 1 in 8 values need that
    many: those few go as floats (5 or 9 bytes) rather than every other value growing by a
    factor of ten (most of a byte each)."""
    if any(type(v) is not float for v in values):
        return None, [(v,) for v in values]
    parts = [_as_decimal(v) for v in values]
    counts: dict[int, int] = {}
    for p in parts:
        if p is not None:
            counts[p[1]] = counts.get(p[1], 0) + 1
    if not counts:
        return None, [(v,) for v in values]
    ks = sorted(counts)
    above = 0  # values needing more decimals than ks[-1]
    while len(ks) > 1 and (above + counts[ks[-1]]) * 8 < len(values):
        above += counts[ks.pop()]
    best_k = ks[-1]
    out: list[Any] = []
    for v, p in zip(values, parts, strict=True):
        n = None if p is None or p[1] > best_k else p[0] * _POW10[best_k - p[1]]
        out.append((v,) if n is None or abs(n) >= _MAX_N else n)
    return best_k, out


def _as_decimal(value: float) -> tuple[int, int] | None:
    """``(n, k)`` with the fewest decimals ``k`` such that ``n / 10**k`` is exactly *value*;
    None for a float that is no such decimal (or -0.0, which is not 0 / 1)."""
    if value == 0.0:
        return (0, 0) if math.copysign(1.0, value) > 0 else None
    for k, p in enumerate(_POW10):
        try:
            n = round(value * p)
        except (OverflowError, ValueError):  # inf, nan: not in a valid batch
            return None
        if not -_MAX_N < n < _MAX_N:
            return None
        if n / p == value:  # the decoder's exactly rounded division: the round trip holds
            return n, k
    return None


# -- decoding ----------------------------------------------------------------------------------


def decode(payload: bytes) -> dict[str, Any]:
    """A compact payload -> the batch as the plain object JSON would give (not validated)."""
    if len(payload) > 1 and payload[1] not in SUPPORTED_VERSIONS:
        raise CompactError(
            "unsupported_version",
            f"compact payload version {payload[1]} is not supported"
            f" (supported: {list(SUPPORTED_VERSIONS)})",
        )
    if len(payload) < HEADER_SIZE:
        message = f"compact header is {HEADER_SIZE} bytes, got {len(payload)}"
        raise CompactError("truncated", message)
    flags = payload[2]
    if flags & ~KNOWN_FLAGS:
        raise CompactError("corrupt", f"unknown flags 0x{flags:02x} in the compact header")
    body = payload[HEADER_SIZE:]
    if flags & FLAG_ZLIB:
        body = _inflate(body)
    if not body:
        raise CompactError("truncated", "compact payload has a header but no body")
    try:
        obj = msgpack.unpackb(
            body, raw=False, strict_map_key=True, use_list=True, ext_hook=_ext_hook
        )
    except CompactError:
        raise
    except msgpack.ExtraData:
        raise CompactError("corrupt", "extra bytes after the MessagePack body") from None
    except Exception as exc:  # msgpack says what is wrong; any failure means bad bytes
        text = str(exc) or type(exc).__name__
        if isinstance(exc, msgpack.OutOfData) or "incomplete" in text or "exceeds max" in text:
            raise CompactError("truncated", f"MessagePack body ends early ({text})") from None
        raise CompactError("corrupt", f"body is not valid MessagePack ({text})") from None
    return _build(obj)


def _ext_hook(code: int, data: bytes) -> int:
    if code != EXT_BIG_INT or not data:
        raise CompactError("corrupt", f"unknown MessagePack extension type {code} in the body")
    value = int.from_bytes(data, "big", signed=True)
    digits = sys.get_int_max_str_digits()  # what the JSON path reads, as the same limit
    if digits and abs(value) >= 10**digits:
        raise CompactError("corrupt", f"an integer of {len(data)} bytes has over {digits} digits")
    return value


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise CompactError("corrupt", f"compressed body is not valid zlib data ({exc})") from None
    if inflater.unconsumed_tail:
        raise CompactError("corrupt", f"compressed body inflates beyond {MAX_INFLATED} bytes")
    if not inflater.eof:
        raise CompactError("truncated", "compressed body ends early")
    if inflater.unused_data:
        raise CompactError("corrupt", "extra bytes after the compressed body")
    return body


def _corrupt(where: str, problem: str) -> CompactError:
    return CompactError("corrupt", f"{where}: {problem}")


def _kind(value: Any) -> str:
    return "nil" if value is None else type(value).__name__


def _list(value: Any, where: str, length: int | None = None) -> list[Any]:
    if type(value) is not list:
        raise _corrupt(where, f"expected an array, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise _corrupt(where, f"expected {length} items, got {len(value)}")
    return value


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise _corrupt(where, f"expected an integer, got {_kind(value)}")
    return value


def _build(obj: Any) -> dict[str, Any]:
    items = _list(obj, "body", len(_BODY_ITEMS))
    gateway, seq, sent, strings, schemas_raw, timebase, rows = items
    for i, text in enumerate(_list(strings, "strings")):
        if type(text) is not str:
            raise _corrupt(f"strings.{i}", f"expected a string, got {_kind(text)}")
    schemas = [
        _schema(s, f"schemas.{i}", strings) for i, s in enumerate(_list(schemas_raw, "schemas"))
    ]
    t0, unit = _list(timebase, "time", 2)
    time = _int(t0, "time.0")
    unit = _int(unit, "time.1")
    readings = []
    running = [[0] * len(fields) for _, _, fields, _, _ in schemas]
    stream = iter(_list(rows, "rows"))
    for number, index in enumerate(stream):
        if number >= _MAX_ROWS:
            break  # the model refuses the batch, with the JSON path's message
        where = f"rows: reading {number}"
        if type(index) is not int or not 0 <= index < len(schemas):
            raise _corrupt(where, f"schema {index!r} is not one of the {len(schemas)} defined")
        sensor, measurement, fields, decimals, tags = schemas[index]
        time += _int(_next(stream, where, "its time step"), f"{where}, time step") * unit
        if not -_MAX_TIME < time < _MAX_TIME:
            raise _corrupt(where, "its time is beyond 64 bits")
        values = {}
        last = running[index]
        for j, name in enumerate(fields):
            value = _next(stream, where, f"the value of {name!r}")
            k = decimals[j]
            if k is not None and type(value) is int:
                last[j] += value
                try:
                    value = last[j] / _POW10[k]
                except OverflowError:
                    raise _corrupt(where, f"the value of {name!r} is beyond a float") from None
            values[name] = value
        reading = {"sensor": sensor, "measurement": measurement, "time": time, "fields": values}
        if tags:
            reading["tags"] = dict(tags)
        readings.append(reading)
    return dict(v=PAYLOAD_VERSION, gateway=gateway, seq=seq, sent=sent, readings=readings)


def _next(stream: Iterator[Any], where: str, what: str) -> Any:
    try:
        return next(stream)
    except StopIteration:
        raise _corrupt(where, f"rows end before {what}") from None


def _schema(raw: Any, where: str, strings: list[str]) -> tuple:
    sensor, measurement, fields, decimals, tags = _list(raw, where, 5)

    def text(index: Any, place: str) -> str:
        if type(index) is not int or not 0 <= index < len(strings):
            raise _corrupt(place, f"string {index!r} is not one of the {len(strings)} defined")
        return strings[index]

    names = [text(f, f"{where}.fields.{i}") for i, f in enumerate(_list(fields, f"{where}.fields"))]
    if len(set(names)) != len(names):
        raise _corrupt(f"{where}.fields", "a field name appears twice")
    ks = _list(decimals, f"{where}.decimals", len(names))
    for i, k in enumerate(ks):
        if k is not None and (type(k) is not int or not 0 <= k <= MAX_DECIMALS):
            raise _corrupt(f"{where}.decimals.{i}", f"expected nil or 0..9, got {k!r}")
    pairs = _list(tags, f"{where}.tags")
    if len(pairs) % 2:
        raise _corrupt(f"{where}.tags", "expected key/value pairs, got an odd count")
    tag_map = {}
    for i in range(0, len(pairs), 2):
        key = text(pairs[i], f"{where}.tags.{i}")
        if key in tag_map:
            raise _corrupt(f"{where}.tags", f"tag {key!r} appears twice")
        tag_map[key] = text(pairs[i + 1], f"{where}.tags.{i + 1}")
    sensor, measurement = text(sensor, f"{where}.sensor"), text(measurement, f"{where}.measurement")
    return sensor, measurement, names, ks, tag_map
