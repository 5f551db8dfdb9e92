"""Payload version 2, malformed: every cut, random bytes, random msgpack structures and
mutations of a valid payload are refused with a named reason, never a crash (property tests;
``make chaos`` runs them at a higher example count)."""

from __future__ import annotations

import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry import Batch, DecodeError, compact
from telemetry.codec import decode_batch, encode_batch
from testkit.wire import standard_batch
from tests.telemetry.compact_cases import GOLDEN, REASONS, T0, golden_batch

# -- malformed payloads ---------------------------------------------------------------------


def _header(flags: int = 0) -> bytes:
    return bytes((0xC1, 2, flags))


def _body(**over: object) -> bytes:
    """The golden body with items replaced, packed again."""
    items = dict(zip(compact._BODY_ITEMS, msgpack.unpackb(GOLDEN[3:]), strict=True))
    items.update(over)
    return _header() + msgpack.packb(list(items.values()))


STRINGS = msgpack.unpackb(GOLDEN[3:])[3]
ROWS = msgpack.unpackb(GOLDEN[3:])[6]
BIG = msgpack.ExtType(1, b"\x7f" * 200)  # an integer of 200 bytes


@pytest.mark.parametrize(
    ("payload", "reason", "needle"),
    [
        (b"\xc1", "truncated", "header"),
        (b"\xc1\x07", "unsupported_version", "version 7"),
        (b"\xc1\x01\x00\x90", "unsupported_version", "version 1"),
        (b"\xc1\x02", "truncated", "got 2"),
        (_header(), "truncated", "no body"),
        (_header(0x02) + GOLDEN[3:], "corrupt", "flags 0x02"),
        (GOLDEN + b"\x00", "corrupt", "extra bytes"),
        (GOLDEN[:-3], "truncated", "ends early"),
        (_header() + b"\xc1\xc1", "corrupt", "not valid MessagePack"),
        (_header(1) + b"garbage", "corrupt", "zlib"),
        (_header(1) + zlib.compress(GOLDEN[3:])[:-4], "truncated", "compressed body ends"),
        (_header(1) + zlib.compress(GOLDEN[3:]) + b"x", "corrupt", "after the compressed"),
        (_header(1) + zlib.compress(b"\x00" * (17 << 20)), "corrupt", "inflates beyond"),
        (_header() + msgpack.packb({"v": 2}), "corrupt", "body: expected an array, got dict"),
        (_header() + msgpack.packb([1, 2, 3]), "corrupt", "expected 7 items, got 3"),
        (_body(strings=["env1", 5]), "corrupt", "strings.1: expected a string, got int"),
        (_body(rows=[3, *ROWS[1:]]), "corrupt", "rows: reading 0: schema 3 is not one of"),
        (_body(rows=ROWS[:-1]), "corrupt", "reading 3: rows end before the value of 'distance'"),
        (_body(rows=["x", *ROWS[1:]]), "corrupt", "reading 0: schema 'x'"),
        (_body(time=[T0]), "corrupt", "time: expected 2 items"),
        (_body(schemas=[[0, 1, [99], [None], []]]), "corrupt", "schemas.0.fields.0: string 99"),
        (_body(schemas=[[0, 1, [2], [None, 1], []]]), "corrupt", "decimals: expected 1 items"),
        (_body(schemas=[[0, 1, [2], [12], []]]), "corrupt", "decimals.0: expected nil or 0..9"),
        (_body(schemas=[[0, 1, [2, 2], [None, None], []]]), "corrupt", "field name appears twice"),
        (_body(schemas=[[0, 1, [2], [None], [10]]]), "corrupt", "odd count"),
        (_header() + msgpack.packb(msgpack.ExtType(9, b"x")), "corrupt", "extension type 9"),
        (_body(rows=[0, 0, msgpack.ExtType(1, b"\x7f" * 2000), *ROWS[3:]]), "corrupt", "digits"),
        (_header() + b"\x91" * 100_000 + b"\x00", "corrupt", "not valid MessagePack"),
        (_body(rows=[0, 0, BIG, *ROWS[3:]]), "corrupt", "'pm25' is beyond a float"),
        (_body(rows=[0, BIG, *ROWS[2:]]), "corrupt", "reading 0: its time is beyond 64 bits"),
        # Well-formed compact payloads whose batch the model refuses, exactly as JSON's would be:
        (
            _body(rows=[0, 0, float("nan"), *ROWS[3:]]),
            "invalid",
            "fields: Value error, field 'pm25' is nan",
        ),
        (_body(rows=[0, 0, "12.5", *ROWS[3:]]), "invalid", "readings.0.fields.pm25"),
        (_body(rows=[0, 0, True, *ROWS[3:]]), "invalid", "readings.0.fields.pm25"),
        (_body(time=[0, 5000]), "invalid", "readings.0.time"),
        (_body(gateway="Bad Id"), "invalid", "gateway"),
        (_body(seq=-1), "invalid", "seq"),
        (_body(strings=[*STRINGS[:2], "PM25", *STRINGS[3:]]), "invalid", "fields.PM25"),
        (_body(schemas=[[0, 1, [2], [1], [11, 10]]], rows=[0, 0, 5]), "invalid", "unknown tag"),
        (_body(rows=[]), "invalid", "readings"),
    ],
)
def test_malformed_compact_payloads_are_named(payload: bytes, reason: str, needle: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_batch(payload)
    assert info.value.reason == reason, info.value
    assert needle in str(info.value)


def test_json_version_2_points_to_the_compact_encoding() -> None:
    with pytest.raises(DecodeError) as info:
        decode_batch(encode_batch(golden_batch()).replace(b'"v":1', b'"v":2'))
    assert info.value.reason == "unsupported_version"
    assert "binary compact encoding" in info.value.message


def test_every_cut_of_a_compact_payload_is_truncated() -> None:
    for payload in (GOLDEN, compact.encode(standard_batch(), compress=True)):
        for end in range(1, len(payload)):
            with pytest.raises(DecodeError) as info:
                decode_batch(payload[:end])
            assert info.value.reason == "truncated", (end, info.value)


def _decodes_or_names(payload: bytes) -> None:
    try:
        assert isinstance(decode_batch(payload), Batch)
    except DecodeError as exc:
        assert exc.reason in REASONS
        assert exc.message


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([b"", b"\xc1", b"\xc1\x02\x00", b"\xc1\x02\x01"]))
def test_random_bytes_never_crash_the_decoder(data: bytes, prefix: bytes) -> None:
    _decodes_or_names(prefix + data)
    _decodes_or_names(_header(1) + zlib.compress(data))


EXT = st.builds(msgpack.ExtType, st.sampled_from([1, 1, 5]), st.binary(max_size=40)) | st.builds(
    msgpack.Timestamp, st.integers(0, 2**32)
)
MSGPACK_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.binary()
    | EXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(MSGPACK_ANY, st.sampled_from(["srl-pasar-01", 7, T0, ["env1"], [T0, 1]])),
        min_size=7,
        max_size=7,
    )
)
def test_random_structures_never_crash_the_decoder(items: list) -> None:
    try:
        body = msgpack.packb(items)
    except (OverflowError, ValueError):  # an int msgpack cannot hold: not a payload
        return
    _decodes_or_names(_header() + body)


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    """Every position in a nested list: where a structural mutation can go."""
    out = [path]
    if isinstance(node, list):
        for i, item in enumerate(node):
            out += _paths(item, (*path, i))
    return out


GOLDEN_PATHS = _paths(msgpack.unpackb(GOLDEN[3:]))[1:]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(GOLDEN_PATHS), MSGPACK_ANY)
def test_structurally_mutated_payloads_never_crash_the_decoder(path: tuple, value: object) -> None:
    """One node of the golden body (a table entry, an index, a value, ...) replaced."""
    body = msgpack.unpackb(GOLDEN[3:])
    node = body
    for i in path[:-1]:
        node = node[i]
    node[path[-1]] = value
    try:
        payload = _header() + msgpack.packb(body)
    except (OverflowError, ValueError):
        return
    _decodes_or_names(payload)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["flip", "delete", "insert", "replace"]),
    st.integers(min_value=0),
    st.integers(0, 255),
    st.booleans(),
)
def test_mutated_payloads_never_crash_the_decoder(
    how: str, where: int, byte: int, compressed: bool
) -> None:
    """One byte changed in a valid payload's body (before compression, so that the mutation
    reaches the MessagePack reader and not just zlib's checksum)."""
    body = bytearray(compact.encode(standard_batch(8), compress=False)[3:])
    i = where % len(body)
    if how == "flip":
        body[i] ^= 1 << (byte % 8)
    elif how == "delete":
        del body[i]
    elif how == "insert":
        body.insert(i, byte)
    else:
        body[i] = byte
    payload = _header(1) + zlib.compress(bytes(body)) if compressed else _header() + body
    _decodes_or_names(bytes(payload))
