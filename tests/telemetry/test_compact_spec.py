"""docs/protocol.md section 2.4, sentence by sentence, as a third-party encoder reads it:
payloads built here with msgpack and zlib from the document alone (never with
telemetry.compact's encoder), decoded by the codec."""

from __future__ import annotations

import zlib

import msgpack
import pytest

from telemetry import DecodeError, compact
from telemetry.codec import decode_batch

T0 = 1_764_489_600_000
STRINGS = ["env1", "air_quality", "pm25", "humidity", "env2"]
#: schema 0: env1 air_quality [pm25, humidity], decimals [1, 0]; schema 1: env2, [pm25] with 1
SCHEMAS = [[0, 1, [2, 3], [1, 0], []], [4, 1, [2], [1], []]]


def payload(rows: list, t0: int = T0, unit: int = 1000, flags: int = 0, body=None) -> bytes:
    """Header (0xC1, version 2, flags) and the body array of section 2.4."""
    if body is None:
        body = msgpack.packb(["gw-a", 1, T0, STRINGS, SCHEMAS, [t0, unit], rows])
    return bytes((0xC1, 2, flags)) + body


def fields(batch, sensor: str) -> list[dict]:
    return [r.fields for r in batch.readings if r.sensor == sensor]


def test_the_decimals_counter_is_kept_per_schema_and_per_column() -> None:
    rows = [
        *(0, 0, 215, 80),  # env1: n(pm25) 0 -> 215 = 21.5; n(humidity) 0 -> 80 = 80.0
        *(1, 0, 300),  # env2: its own n(pm25), from 0: 300 = 30.0
        *(0, 0, 1, -1),  # env1: 216 = 21.6 and 79 = 79.0, not 301 (env2's) nor 1 + 80
        *(1, 0, -5),  # env2: 295 = 29.5
    ]
    batch = decode_batch(payload(rows))
    assert fields(batch, "env1") == [
        {"pm25": 21.5, "humidity": 80.0},
        {"pm25": 21.6, "humidity": 79.0},
    ]
    assert fields(batch, "env2") == [{"pm25": 30.0}, {"pm25": 29.5}]


def test_a_float_in_a_decimal_column_is_itself_and_leaves_n_alone() -> None:
    rows = [*(1, 0, 300), *(1, 0, 12.25), *(1, 0, 1)]  # 30.0, 12.25 as is, then n 301 = 30.1
    assert fields(decode_batch(payload(rows)), "env2") == [
        {"pm25": 30.0},
        {"pm25": 12.25},
        {"pm25": 30.1},
    ]


def test_decimals_nil_sends_values_as_themselves() -> None:
    schemas = [[0, 1, [2], [None], []]]
    body = msgpack.packb(["gw-a", 1, T0, STRINGS, schemas, [T0, 1], [0, 0, 215, 0, 0, 21.5]])
    values = [f["pm25"] for f in fields(decode_batch(payload([], body=body)), "env1")]
    assert values == [215, 21.5] and type(values[0]) is int  # an int stays an int


def test_the_first_time_step_counts_from_t0_and_steps_may_be_negative() -> None:
    rows = [
        *(1, 5, 1),  # t0 + 5 x 1000 ms: T0
        *(1, 60, 1),  # T0 + 60 s
        *(1, -30, 1),  # back 30 s: T0 + 30 s
        *(1, 0, 1),  # the same instant again
    ]
    batch = decode_batch(payload(rows, t0=T0 - 5000, unit=1000))
    assert [r.time - T0 for r in batch.readings] == [0, 60_000, 30_000, 30_000]


def test_zlib_is_the_rfc_1950_container() -> None:
    body = msgpack.packb(["gw-a", 1, T0, STRINGS, SCHEMAS, [T0, 1000], [1, 0, 300]])
    assert decode_batch(payload([], flags=1, body=zlib.compress(body))).readings[0].time == T0
    for wbits, container in ((-15, "raw DEFLATE (RFC 1951)"), (31, "gzip (RFC 1952)")):
        packer = zlib.compressobj(wbits=wbits)
        other = packer.compress(body) + packer.flush()
        with pytest.raises(DecodeError) as info:
            decode_batch(payload([], flags=1, body=other))
        assert info.value.reason == "corrupt", container
        assert "not valid zlib data" in info.value.message


def test_a_body_inflating_past_16_mib_is_corrupt() -> None:
    limit = 16 * 1024 * 1024
    assert limit == compact.MAX_INFLATED
    with pytest.raises(DecodeError) as info:  # 16 MiB exactly: inflated, then read
        decode_batch(payload([], flags=1, body=zlib.compress(b"\x90" * limit)))
    assert info.value.reason == "corrupt" and "extra bytes" in info.value.message
    with pytest.raises(DecodeError) as info:
        decode_batch(payload([], flags=1, body=zlib.compress(b"\x90" * (limit + 1))))
    assert info.value.reason == "corrupt"
    assert f"inflates beyond {limit} bytes" in info.value.message
