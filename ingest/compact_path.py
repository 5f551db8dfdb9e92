"""Ingest's fast path for compact (payload version 2) readings: bytes straight to lines.

The general decoder (:func:`telemetry.codec.decode_batch`) turns a compact payload into the
plain object JSON would give, one dict per reading, then validates it with the pydantic model,
and the encoder copies every reading once more. That costs about three times the CPU per
reading of the JSON fast path, although the compact body is cheaper to parse (MessagePack,
one C call). Here the body is read column by column instead of reading by reading: a schema
stands for one series, so its readings' values sit in ``rows`` at a fixed stride, and the
running decimals, the times and the line text are all worked out by C loops (slices,
``itertools.accumulate``, ``map``, one ``%`` format per series) with no Python code per
reading in the common case (every schema with as many fields as the others).

The checks are the model's on the numbers (types, finite floats, time range, counts within
2**53, lengths); the names and tags are checked once per series by the
:class:`~telemetry.line_encoder.LineEncoder` (its template cache), as on the JSON fast path.
Whatever is not plainly valid here (a malformed body, a bool, a huge integer, a name the
contract does not allow, ...) gives None, and only the codec judges it: so this path accepts
only what the codec accepts, with the same lines (property tests in
tests/ingest/test_pipeline.py).

Where the C extension ``ingest._compact_lines`` is built (``ingest/_compact_lines.c``), it
runs first on the (inflated) body: it reads the MessagePack by hand and writes the lines in
one pass, several times cheaper per reading, and gives None for anything it does not handle
or is not plainly valid, and then the Python code here runs as before. It gives lines only for
a body whose lines :func:`_lines` gives, the same strings (tests/ingest/test_compact_c.py).
Without the module (the 32-bit ARM gateway may have none) the Python path does all the work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import itemgetter, mul, truediv
from typing import Any

import msgpack
import msgspec

from telemetry import compact
from telemetry.line_block import LineBlock
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import format_float, meta_line
from telemetry.models import COMPACT_PAYLOAD_VERSION, MAX_TIME_MS, MIN_TIME_MS
from telemetry.value_text import decimal_texts, float_texts

try:
    from ingest import _compact_lines
except ImportError:  # not built (a platform without a compiler): the Python path below
    _compact_lines = None

_EXACT = 2**53  # ints (and floats of counts) beyond this take the codec's path
_MAX_READINGS = 10_000
_MAX_FIELDS = 64
_INT = {int}
_FLOAT = {float}
_NUMBER = {int, float}


#: The body of a compact payload with the zlib flag, inflated (with the codec's size limit).
inflate = compact._inflate


def compact_c() -> Any:
    """The C reader of compact bodies (``_compact_lines.lines``), or None where it is not
    built: what :func:`ingest.pipeline.take` calls for a compact payload."""
    return _compact_lines.lines if _compact_lines is not None else None


class _Slow(Exception):
    """Not plainly valid: the codec decides."""


def compact_lines(
    payload: bytes, gateway: str, encoder: LineEncoder, joined: bool = False
) -> tuple[Sequence[str], int, int] | None:
    """The lines of a compact readings payload of *gateway* (its meta line last), the number
    of readings and the newest reading time; None when only the codec may judge it. With
    *joined*, the lines are a :class:`~telemetry.line_block.LineBlock`."""
    if len(payload) < compact.HEADER_SIZE or payload[0] != compact.MAGIC:
        return None
    if payload[1] != COMPACT_PAYLOAD_VERSION or payload[2] & ~compact.FLAG_ZLIB:
        return None
    try:
        body = payload[compact.HEADER_SIZE :]
        if payload[2]:
            body = compact._inflate(body)
        if _compact_lines is not None:
            done = _compact_lines.lines(body, gateway, encoder.series, format_float, joined)
            if done is not None:
                lines, n, newest, seq, sent = done
                meta = meta_line(gateway, seq, n, sent)
                if joined:
                    return LineBlock(f"{lines}\n{meta}", n + 1), n, newest
                lines.append(meta)
                return lines, n, newest
        obj = msgpack.unpackb(
            body, raw=False, strict_map_key=True, use_list=True, ext_hook=compact._ext_hook
        )
        lines, n, newest = _lines(obj, gateway, encoder)
        return (LineBlock.of(lines) if joined else lines), n, newest
    except Exception:  # bad bytes, a bad name, a bool, ...: the codec says
        return None


def _lines(obj: Any, gateway: str, encoder: LineEncoder) -> tuple[list[str], int, int]:
    if type(obj) is not list or len(obj) != 7:
        raise _Slow
    gw, seq, sent, strings, raw_schemas, timebase, rows = obj
    if gw != gateway or type(seq) is not int or seq < 0 or type(sent) is not int:
        raise _Slow
    if not MIN_TIME_MS <= sent < MAX_TIME_MS or type(strings) is not list:
        raise _Slow
    if set(map(type, strings)) - {str} or type(raw_schemas) is not list:
        raise _Slow
    schemas = [compact._schema(s, "schema", strings) for s in raw_schemas]
    if type(timebase) is not list or len(timebase) != 2 or type(rows) is not list:
        raise _Slow
    t0, unit = timebase
    if type(t0) is not int or type(unit) is not int or not schemas:
        raise _Slow
    widths = [2 + len(s[2]) for s in schemas]
    if min(widths) < 3 or max(widths) > 2 + _MAX_FIELDS:
        raise _Slow
    stride = widths[0]
    if widths.count(stride) == len(widths):  # one stride: columns are slices
        n = len(rows) // stride
        if n * stride != len(rows):
            raise _Slow
        starts: range | list[int] = range(0, len(rows), stride)
        ids = rows[0::stride]
        dts = rows[1::stride]
    else:
        starts, pos = [], 0
        while pos < len(rows):
            index = rows[pos]
            if type(index) is not int or not 0 <= index < len(schemas):
                raise _Slow
            starts.append(pos)
            pos += widths[index]
        if pos != len(rows):
            raise _Slow
        ids = [rows[p] for p in starts]
        dts = [rows[p + 1] for p in starts]
        n = len(starts)
    if not 0 < n <= _MAX_READINGS or set(map(type, ids)) != _INT or set(map(type, dts)) != _INT:
        raise _Slow
    times = list(accumulate(map(mul, dts, repeat(unit)), initial=t0))
    del times[0]
    newest = max(times)
    if min(times) < MIN_TIME_MS or newest >= MAX_TIME_MS:
        raise _Slow
    used = sorted(set(ids))
    if used[0] < 0 or used[-1] >= len(schemas):
        raise _Slow
    if len(used) == 1:  # one series: its readings are all of its width
        w = widths[used[0]]
        cols = [rows[j::w] for j in range(2, w)]
        lines = _series_lines(schemas[used[0]], gateway, encoder, cols, times)
    else:
        lines = [""] * n
        for s in used:
            mine = [i for i, x in enumerate(ids) if x == s]
            first = _pick(starts, mine)
            cols = [_pick(rows, [p + j for p in first]) for j in range(2, widths[s])]
            series = _series_lines(schemas[s], gateway, encoder, cols, _pick(times, mine))
            for i, line in zip(mine, series):  # noqa: B905
                lines[i] = line
    lines.append(meta_line(gateway, seq, n, sent))
    return lines, n, newest


def _pick(seq: Any, indices: list[int]) -> list[Any]:
    if len(indices) == 1:  # itemgetter of one index gives the item, not a tuple
        return [seq[indices[0]]]
    return list(itemgetter(*indices)(seq))


def _series_lines(
    schema: tuple, gateway: str, encoder: LineEncoder, cols: list[list[Any]], times: list[int]
) -> list[str]:
    """The lines of one series' readings: *cols* holds each field's wire values in order.

    Each field's values become text column by column (:func:`_texts`), and the lines are
    joined from the columns by one C loop: ``prefix`` ``pm25=`` value ``,pm10=`` value ...
    ``" "`` time."""
    sensor, measurement, names, decimals, tags = schema
    prefix, kinds = encoder.series(gateway, sensor, measurement, names, tags)
    ints = kinds or (False,) * len(names)
    parts: list[Any] = []
    before = prefix
    for name, col, k, is_int in zip(names, cols, decimals, ints):  # noqa: B905
        parts += (repeat(f"{before}{name}="), _texts(col, k, is_int, (prefix, name)))
        before = "i," if is_int else ","
    parts += (repeat(before[:-1] + " "), _JSON_ENCODE(times).decode()[1:-1].split(","))
    return list(map("".join, zip(*parts)))  # noqa: B905


def _texts(col: list[Any], k: int | None, is_int: bool, column: tuple) -> list[str]:
    """A field's values as line protocol writes them: counts as digits, floats as
    :func:`telemetry.mapping.format_float` (running decimals looked up among those already
    printed: :mod:`telemetry.value_text`)."""
    if is_int:
        return _JSON_ENCODE(_column(col, k, True)).decode()[1:-1].split(",")
    if k is not None and set(map(type, col)) == _INT:  # running decimals
        return decimal_texts(list(accumulate(col)), k, column)
    return float_texts(_column(col, k, False))


def _column(col: list[Any], k: int | None, is_int: bool) -> list[Any]:
    """A field's values as the mapping types them (counts int, all else float)."""
    types = set(map(type, col))
    if k is not None and types == _INT:  # running decimals: finite, or OverflowError
        col = list(map(truediv, accumulate(col), repeat(compact._POW10[k])))
        if is_int:
            return _counts(col)
        return col
    elif k is not None and int in types:
        if types - _NUMBER:
            raise _Slow
        p, n = compact._POW10[k], 0  # a float sent as itself among the decimals leaves n alone
        col = [(n := n + v) / p if type(v) is int else v for v in col]
    elif types - _NUMBER:
        raise _Slow
    elif types != _FLOAT:  # ints given for floats (or counts) as themselves
        if max(map(abs, col)) > _EXACT:
            raise _Slow
        col = list(map(float, col))
    if not all(map(math.isfinite, col)):
        raise _Slow
    return _counts(col) if is_int else col


def _counts(col: list[Any]) -> list[int]:
    """Counts as the mapping writes them (``int(value)``), if all are exact."""
    if max(map(abs, col)) >= _EXACT:
        raise _Slow
    return list(map(int, col))


_JSON_ENCODE = msgspec.json.Encoder().encode
