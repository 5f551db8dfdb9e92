"""Field values printed a column at a time (telemetry/value_text.py) and the compact fast path
that looks its running decimals up among those already printed (ingest/compact_path.py): the
same text as the reference (:func:`telemetry.mapping.format_float`, the codec's lines), cold,
warm, and for columns of mostly new values. Pure: no broker, no database."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.compact_path import compact_lines
from telemetry import Batch, DecodeError, Reading, compact, decode_batch, value_text
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import format_float
from testkit.ingest import T0

EDGE_FLOATS = [-0.0, 0.0, 1e16, -1e16, 1e15, 5e-324, 1.7976931348623157e308, 0.1, 1e-7, 41.3]


def test_float_texts_print_as_format_float_and_refuse_what_is_not_finite() -> None:
    assert value_text.float_texts(EDGE_FLOATS) == list(map(format_float, EDGE_FLOATS))
    assert value_text.float_texts((-0.0, 0.0)) == ["-0.0", "0.0"]
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="not a finite number"):
            value_text.float_texts([1.0, bad])


def test_the_decimal_tables_cover_the_compact_encodings_decimals() -> None:
    assert value_text.MAX_DECIMALS == compact.MAX_DECIMALS


@given(
    columns=st.lists(
        st.lists(st.integers(-(10**18), 10**18) | st.integers(-50, 50), min_size=1, max_size=60),
        min_size=1,
        max_size=8,
    ),
    k=st.integers(0, 9),
)
@settings(max_examples=300, deadline=None)
def test_decimal_texts_are_the_floats_texts_cold_and_warm(columns, k) -> None:
    """Each n prints as n / 10**k does, the first time (printed), the next (looked up), and
    while a column of mostly new values is printed directly."""
    for _ in range(2):
        for ns in columns:
            want = [format_float(n / 10**k) for n in ns]
            assert value_text.decimal_texts(ns, k, ("test", k)) == want


def test_a_column_of_mostly_new_values_is_printed_directly_for_a_while() -> None:
    column = ("test-noisy", "pm25")
    value_text._DECIMALS[3].clear()  # as a worker starts
    value_text.decimal_texts(list(range(10**9, 10**9 + 50)), 3, column)
    assert column not in value_text._SKIPPING  # all new, but the table was empty: a start
    value_text.decimal_texts(list(range(2 * 10**9, 2 * 10**9 + 50)), 3, column)
    assert value_text._SKIPPING[column] == value_text.SKIP
    ns = list(range(3 * 10**9, 3 * 10**9 + 50))
    assert value_text.decimal_texts(ns, 3, column) == [format_float(n / 1000) for n in ns]
    assert value_text._SKIPPING[column] == value_text.SKIP - 1
    assert 3 * 10**9 not in value_text._DECIMALS[3]  # printed directly: nothing kept


def _batch(values: list[list[float]], counts: list[int]) -> Batch:
    readings = [
        Reading(
            sensor="env1",
            measurement="air_quality",
            time=T0 + i * 1000,
            fields={"pm25": row[0], "pm10": row[1], "humidity": row[2], "count": c},
        )
        for i, (row, c) in enumerate(zip(values, counts, strict=True))
    ]
    return Batch(v=1, gateway="gw-a", seq=1, sent=T0, readings=readings)


_decimal = st.integers(-(10**6), 10**6).map(lambda n: n / 10)
_value = st.one_of(_decimal, st.sampled_from(EDGE_FLOATS), st.floats(-1e20, 1e20))


@given(
    values=st.lists(st.lists(_value, min_size=3, max_size=3), min_size=1, max_size=60),
    counts=st.lists(st.integers(0, 2**40), min_size=60, max_size=60),
)
@settings(max_examples=200, deadline=None)
def test_compact_lines_are_the_codecs_lines_sent_twice(values, counts) -> None:
    """Random batches with decimals, floats sent as themselves, -0.0 beside 0.0, 1e16 and
    counts: the compact path's lines are the lines of the codec's batch, the first time and
    again with the decimals' texts kept."""
    batch = _batch(values, counts[: len(values)])
    payload = compact.encode(batch)
    want = LineEncoder().batch_lines(decode_batch(payload))
    for _ in range(2):
        got = compact_lines(payload, "gw-a", LineEncoder())
        assert got is not None
        assert got[0][:-1] == want
        assert got[1] == len(values)


def test_nan_is_refused_by_the_compact_path_and_the_codec() -> None:
    """A NaN or an infinity sent as a float in a compact payload: the fast path leaves it to
    the codec, which refuses it."""
    batch = _batch([[41.3, 1.0, 2.0]], [1])
    body = compact.encode(batch, False)
    obj = compact.msgpack.unpackb(body[compact.HEADER_SIZE :], strict_map_key=True)
    rows = obj[6]
    for bad_value in (math.nan, math.inf):
        rows_bad = [bad_value if type(v) is float or v == 413 else v for v in rows]
        payload = body[: compact.HEADER_SIZE] + compact.msgpack.packb([*obj[:6], rows_bad])
        assert compact_lines(payload, "gw-a", LineEncoder()) is None
        with pytest.raises(DecodeError) as refused:
            decode_batch(payload)
        assert refused.value.reason == "invalid", refused.value.message
