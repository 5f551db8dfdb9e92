"""The C twin of the compact fast path (ingest/_compact_lines.c): it gives lines only for
bodies whose lines the Python ``_lines`` of ingest/compact_path.py gives, the same strings,
and None for everything else (then the Python path decides); it never crashes nor leaks, on
any bytes. The module is built by the build: a missing module fails here, it is no skip."""

from __future__ import annotations

import math
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import _compact_lines, compact_path
from telemetry import Batch, Reading, compact
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import format_float, meta_line
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, READING_TAGS
from telemetry.units import field_kind
from testkit.ingest import T0
from testkit.strategies import batches as _any_batches
from testkit.strategies import ids

GW = "gw-a"
FLOATS = ["pm25", "pm10", "temperature", "humidity", "level", "x_1"]
COUNTS = ["count", "satellites"]
assert all(field_kind(n) == "float" for n in FLOATS) and all(field_kind(n) == "int" for n in COUNTS)


def _body(payload: bytes) -> bytes:
    body = payload[compact.HEADER_SIZE :]
    return compact._inflate(body) if payload[2] else body


def _python(body: bytes, gateway: str = GW) -> tuple[list[str], int, int] | None:
    """What the Python path (``_lines``) gives: the lines with the meta line, n, newest."""
    try:
        obj = msgpack.unpackb(
            body, raw=False, strict_map_key=True, use_list=True, ext_hook=compact._ext_hook
        )
        return compact_path._lines(obj, gateway, LineEncoder())
    except Exception:
        return None


def _c(body: bytes, gateway: str = GW, joined: bool = False):
    return _compact_lines.lines(body, gateway, LineEncoder().series, format_float, joined)


def _agree(body: bytes, gateway: str = GW) -> bool:
    """C gives lines only where Python does, the same; True when C gave lines. Joined (one
    text, what the worker asks for), C gives the same lines, or None just as often."""
    c, py = _c(body, gateway), _python(body, gateway)
    text = _c(body, gateway, joined=True)
    assert (text is None) == (c is None)
    if c is None:
        return False
    assert text == ("\n".join(c[0]), *c[1:])
    assert py is not None, "C accepted a body the Python path refuses"
    lines, n, newest, seq, sent = c
    obj = msgpack.unpackb(body, ext_hook=compact._ext_hook)
    assert (seq, sent) == (obj[1], obj[2])
    assert [*lines, meta_line(gateway, seq, n, sent)] == py[0]
    assert (n, newest) == py[1:]
    return True


def _batch(readings: list[Reading], seq: int = 7) -> Batch:
    return Batch(gateway=GW, seq=seq, sent=T0 + 500, readings=readings)


def _encode(batch: Batch) -> bytes:
    return _body(compact.encode(batch, compress=False))


# -- valid batches ----------------------------------------------------------------------------


def _decimal(places: int, magnitude: int) -> st.SearchStrategy[float]:
    return st.integers(-(10**magnitude), 10**magnitude).map(lambda n: n / 10**places)


#: Values of a float field: decimals of 0-6 places, noisy 17-digit floats, zeros, tiny
#: magnitudes, ints given for floats: all of them the C path takes.
FLOAT_VALUES = st.one_of(
    st.integers(0, 6).flatmap(lambda k: _decimal(k, k + 4)),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-7, -1.5e-6, 1e-5, 9.99e-6, 1e-4, 41.3, 3e-9, 1.234e-8]),
    st.integers(-(2**31), 2**31),
)
#: In a batch of its own now and then: huge magnitudes, which the C path (or both paths)
#: may leave to the codec.
HUGE_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e15, 1e16, 2.0**53, 1.5e300, 123456789.123456]),
    st.integers(-(2**54), 2**54),
)
INT_COUNTS = st.one_of(st.integers(0, 500), st.integers(-(2**52), 2**52))
#: Counts sent as floats (the mapping writes ``int(value)``): decimals, so k is set.
FLOAT_COUNTS = st.one_of(
    st.integers(0, 5).flatmap(lambda k: _decimal(k, k + 3)), st.floats(-1e6, 1e6, allow_nan=False)
)
HUGE_COUNTS = st.one_of(st.integers(-(2**53), 2**53), st.just(2**53), HUGE_VALUES)


@st.composite
def _series(draw, values=FLOAT_VALUES, counts=(INT_COUNTS, FLOAT_COUNTS), max_fields: int = 4):
    """A series: sensor, measurement, tags, and a strategy per field name (a count field's
    values all ints or all floats, as a gateway sends them)."""
    names = draw(st.lists(st.sampled_from(FLOATS + COUNTS), min_size=1, max_size=max_fields))
    names = list(dict.fromkeys(names))
    tags = draw(
        st.dictionaries(
            st.sampled_from(READING_TAGS), st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True)
        )
    )
    measurement = draw(st.sampled_from(["air_quality", "traffic", "m_1"]))
    fields = {n: draw(st.sampled_from(counts)) if field_kind(n) == "int" else values for n in names}
    return draw(ids), measurement, tags, fields


@st.composite
def _batches(draw, series=None, max_series: int = 4, max_readings: int = 30):
    """Batches of several series, interleaved (or one), at steps of a common unit or not."""
    if series is None:
        huge = draw(st.integers(0, 7)) == 0
        series = _series(FLOAT_VALUES | HUGE_VALUES, (INT_COUNTS, FLOAT_COUNTS, HUGE_COUNTS))
        series = series if huge else _series()
    all_series = draw(st.lists(series, min_size=1, max_size=max_series))
    n = draw(st.integers(1, max_readings))
    order = draw(st.lists(st.integers(0, len(all_series) - 1), min_size=n, max_size=n))
    unit = draw(st.sampled_from([1, 1000, 5000]))
    t, readings = T0, []
    for index in order:
        sensor, measurement, tags, fields = all_series[index]
        t += unit * draw(st.integers(0, 3))
        values = {name: draw(strategy) for name, strategy in fields.items()}
        readings.append(
            Reading(sensor=sensor, measurement=measurement, time=t, fields=values, tags=tags)
        )
    return _batch(readings, seq=draw(st.integers(0, 2**64 - 1)))


@given(batch=_batches())
@settings(max_examples=300, deadline=None)
def test_same_lines_as_python_on_valid_batches(batch: Batch) -> None:
    _agree(_encode(batch))


@given(batch=_any_batches)
@settings(max_examples=200, deadline=None)
def test_same_lines_as_python_on_the_contract_strategy(batch: Batch) -> None:
    _agree(_encode(batch.model_copy(update={"gateway": GW})))


#: The common cases, which the C path must take (not only agree on).
@given(
    batch=_batches(
        _series(st.integers(0, 6).flatmap(lambda k: _decimal(k, k + 3)), (INT_COUNTS,)), 1
    )
)
@settings(max_examples=200, deadline=None)
def test_c_takes_one_series_of_decimals_and_int_counts(batch: Batch) -> None:
    body = _encode(batch)
    assert _agree(body)
    obj = msgpack.unpackb(body)
    for f, k in zip(obj[4][0][2], obj[4][0][3], strict=True):  # counts: k = None
        assert (k is None) == (field_kind(obj[3][f]) == "int")


@given(batch=_batches(_series(max_fields=6), 3))
@settings(max_examples=200, deadline=None)
def test_c_takes_series_of_decimals_floats_and_counts(batch: Batch) -> None:
    assert _agree(_encode(batch))


def test_decimal_texts_match_format_float() -> None:
    """The decimals C writes itself (|n| < 10**15, 1e-5 and up), at the edges of the plain
    notation and of the digits, for every k."""
    ns = {0, 1, -1, 5, 10**15 - 1, -(10**15 - 1), 10**15, 2**53 - 1, 2**53, 2**62}
    for d in range(1, 16):
        ns |= {10**d, 10**d - 1, 10**d + 1, 10 ** (d - 1) * 7, -(10**d) + 3}
    strings = ["s1", "air_quality", "pm25"]
    for k in range(10):
        for n in sorted(ns):
            schemas = [[0, 1, [2], [k], []]]
            body = msgpack.packb([GW, 1, T0, strings, schemas, [T0, 1], [0, 0, n]])
            taken = _agree(body)
            assert taken or (abs(n) >= 2**53 and k > 0), (n, k)
            if taken:
                line = _c(body)[0][0]
                assert line.split(" ")[1] == f"pm25={format_float(n / 10**k)}"


# -- invalid bodies ---------------------------------------------------------------------------


#: An edit of a body: flip a bit, insert, delete or replace bytes, at a position.
EDIT = st.tuples(st.sampled_from("fidr"), st.integers(0, 10**6), st.binary(min_size=1, max_size=3))


@given(
    batch=_batches(max_readings=12),
    edits=st.lists(EDIT, min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 10**6),
)
@settings(max_examples=500, deadline=None)
def test_mutated_bodies_never_accepted_beyond_python(batch: Batch, edits, cut) -> None:
    body = bytearray(_encode(batch))
    for kind, position, data in edits:
        i = position % (len(body) + 1)
        if kind == "f" and i < len(body):
            body[i] ^= 1 << (data[0] % 8)
        elif kind == "i":
            body[i:i] = data
        elif kind == "d":
            del body[i : i + len(data)]
        else:
            body[i : i + len(data)] = data
    if cut is not None:
        del body[cut % (len(body) + 1) :]
    _agree(bytes(body))


@given(data=st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes(data: bytes) -> None:
    _agree(data)
    _agree(b"\x97" + msgpack.packb(GW) + msgpack.packb(1) + msgpack.packb(T0) + data)


def _raw(strings=None, schemas=None, time=None, rows=None, gw=GW, seq=1, sent=T0) -> bytes:
    strings = strings or ["s1", "air_quality", "pm25", "count"]
    schemas = schemas or [[0, 1, [2, 3], [1, None], []]]
    rows = [0, 0, 413, 7] if rows is None else rows
    return msgpack.packb([gw, seq, sent, strings, schemas, time or [T0, 1000], rows])


F64_NAN = b"\xcb" + struct.pack(">d", math.nan)


@pytest.mark.parametrize(
    "body",
    [
        _raw(gw="gw-b"),  # another gateway's body
        _raw(gw=b"gw-a"),  # bin, not str
        _raw(seq=-1),
        _raw(seq=1.0),
        _raw(sent=MIN_TIME_MS - 1),
        _raw(sent=MAX_TIME_MS),
        _raw(time=[MIN_TIME_MS - 1000, 1]),  # a reading before 2000
        _raw(time=[MAX_TIME_MS, 1]),
        _raw(time=[MAX_TIME_MS - 1, 1], rows=[0, 0, 1, 1, 0, 1, 2, 2]),  # the second after
        _raw(time=[T0, 2**62], rows=[0, 4, 1, 1]),  # dt * unit beyond 64 bits
        _raw(time=[2**64 - 1, 1]),
        _raw(rows=[]),  # n = 0
        _raw(rows=[0, 1, 413, 7] * 10_001),  # 10,001 readings
        _raw(rows=[1, 0, 413, 7]),  # schema index out of range
        _raw(rows=[-1, 0, 413, 7]),
        _raw(rows=[0, 0, 413]),  # a reading cut short
        _raw(rows=[0, 0, True, 7]),  # a bool
        _raw(rows=[0, 0, 413, False]),
        _raw(rows=[0, 0, None, 7]),
        _raw(rows=[0, 0, "41.3", 7]),
        _raw(rows=[0, 0, math.inf, 7]),
        _raw(rows=[0, 0, 413, 2**53]),  # a count beyond exact
        _raw(rows=[0, 0, 413, 7.0 * 2**53]),
        _raw(rows=[0, 0, 413, [7]]),
        _raw(rows=[0, 0.0, 413, 7]),
        _raw(schemas=[[0, 1, [2, 3], [1], []]]),  # decimals of another length
        _raw(schemas=[[0, 1, [2, 3], [1, 10], []]]),
        _raw(schemas=[[0, 1, [2, 3], [1, -1], []]]),
        _raw(schemas=[[0, 1, [2, 3], [1, True], []]]),
        _raw(schemas=[[0, 1, [2, 2], [1, 1], []]]),  # a field twice
        _raw(schemas=[[0, 1, [2, 4], [1, None], []]]),  # a string out of range
        _raw(schemas=[[0, 1, [], [], []]]),
        _raw(schemas=[[0, 1, [2, 3], [1, None], [0]]]),  # odd tags
        _raw(schemas=[[0, 1, [2, 3], [1, None], [0, 1, 0, 2]]]),  # a tag key twice
        _raw(schemas=[[0, 1, [2, 3], [1, None]]]),
        _raw(strings=["s1", "air_quality", "pm25", b"count"]),
        _raw(strings=["s1", "Air quality", "pm25", "count"]),  # a name series refuses
        _raw(strings=["s1", "gateway_batches", "pm25", "count"]),  # a reserved measurement
        msgpack.packb(["gw-a", 1, T0, ["s1"], [], [T0, 1], [0, 0, 1]]),  # no schemas
        _raw() + b"\x00",  # trailing bytes
        _raw()[:-1],
        _raw().replace(b"\xa2s1", b"\xa2\xff\xfe"),  # not UTF-8
        _raw().replace(b"\xcd\x01\x9d", F64_NAN),  # 413 -> NaN
        b"",
        b"\xc1",
    ],
)
def test_invalid_bodies_give_none(body: bytes) -> None:
    assert _c(body) is None
    _agree(body)


def _wide(width: int, schemas: int = 1) -> bytes:
    strings = ["s1", "air_quality", *(f"f_{i}" for i in range(70))]
    schema = [0, 1, list(range(2, 2 + width)), [None] * width, []]
    rows = [0, 0, *range(width)]
    return msgpack.packb([GW, 1, T0, strings, [schema] * schemas, [T0, 1], rows])


def test_widths_and_counts_at_the_limits() -> None:
    assert _agree(_wide(64)) and _agree(_wide(1))
    assert _c(_wide(65)) is None and _python(_wide(65)) is None
    many = _raw(rows=[0, 1, 413, 7] * 10_000)
    assert _agree(many) and _c(many)[1] == 10_000
    assert _agree(_wide(3, schemas=10_000))  # unused schemas: as many as readings allowed
