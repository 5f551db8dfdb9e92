"""The telemetry contract: codec round trips, named decode errors, topic parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry import Batch, DecodeError, Reading, Status, topics
from telemetry.codec import decode_batch, decode_status, encode_batch, encode_status

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z
REASONS = {
    "empty",
    "not_utf8",
    "not_json",
    "not_object",
    "no_version",
    "unsupported_version",
    "invalid",
    "reserved_id",  # tests/telemetry/test_reserved.py
    "reserved_measurement",
    "truncated",  # a payload starting with 0xc1 is compact (tests/telemetry/test_compact.py)
    "corrupt",
}


def sample_batch(**over) -> Batch:
    reading = Reading(
        sensor="env1",
        measurement="air_quality",
        time=T0,
        fields={"pm25": 12.5, "pm10": 20.0, "temperature": 29.1, "humidity": 81.0},
    )
    traffic = Reading(
        sensor="cnt1", measurement="traffic", time=T0, fields={"count": 17}, tags={"lane": "1"}
    )
    return Batch(gateway="srl-pasar-01", seq=7, sent=T0 + 500, readings=[reading, traffic], **over)


def test_round_trip() -> None:
    batch = sample_batch()
    assert decode_batch(encode_batch(batch)) == batch


def test_status_round_trip_and_last_will_without_time() -> None:
    st_ = Status(gateway="gw-1", state="online", time=T0, version="0.1.0", devices={"a": "ok"})
    assert decode_status(encode_status(st_)) == st_
    will = decode_status(b'{"v":1,"gateway":"gw-1","state":"offline"}')
    assert will.state == "offline" and will.time is None


def _raw(**over) -> bytes:
    obj = json.loads(encode_batch(sample_batch()))
    obj.update(over)
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("payload", "reason", "needle"),
    [
        (b"", "empty", "empty"),
        (b"\xff\xfe", "not_utf8", "UTF-8"),
        (b"{not json", "not_json", "position"),
        (b"[" * 100_000, "not_json", "too deeply"),
        (b"[1, 2]", "not_object", "list"),
        (b'{"gateway": "g"}', "no_version", "'v'"),
        (_raw(v=2), "unsupported_version", "version 2"),
        (_raw(v=True), "unsupported_version", "True"),
        (_raw(gateway="Bad Id"), "invalid", "gateway"),
        (_raw(seq=-1), "invalid", "seq"),
        (_raw(sent=0), "invalid", "sent"),
        (_raw(readings=[]), "invalid", "readings"),
        (
            b'{"v":1,"gateway":"g","seq":1,"sent":1764489600000,"readings":[{"sensor":"s",'
            b'"measurement":"m","time":1764489600000,"fields":{"a":NaN}}]}',
            "not_json",
            "NaN",
        ),
        (
            _raw(readings=[{"sensor": "s", "measurement": "m", "time": T0, "fields": {"a": "1"}}]),
            "invalid",
            "readings.0.fields.a",
        ),
        (
            _raw(
                readings=[
                    {
                        "sensor": "s",
                        "measurement": "m",
                        "time": T0,
                        "fields": {"a": 1},
                        "tags": {"seq": "1"},
                    }
                ]
            ),
            "invalid",
            "unknown tag",
        ),
        (_raw(extra=1), "invalid", "extra"),
        # JSON has no literal for a number that is not finite: NaN, Infinity, -Infinity are
        # not JSON at all. 1e400 is JSON, but reads as infinity: the model refuses it at the
        # reading's fields, naming the field.
        (encode_batch(sample_batch()).replace(b"12.5", b"Infinity"), "not_json", "Infinity"),
        (encode_batch(sample_batch()).replace(b"12.5", b"-Infinity"), "not_json", "-Infinity"),
        (
            encode_batch(sample_batch()).replace(b"12.5", b"1e400"),
            "invalid",
            "readings.0.fields: Value error, field 'pm25' is inf, only finite numbers",
        ),
        (
            encode_batch(sample_batch()).replace(b"12.5", b"-1e400"),
            "invalid",
            "field 'pm25' is -inf",
        ),
    ],
)
def test_bad_payloads_are_named(payload: bytes, reason: str, needle: str) -> None:
    """docs/protocol.md, section 2.3."""
    with pytest.raises(DecodeError) as info:
        decode_batch(payload)
    assert info.value.reason == reason
    assert needle in str(info.value)


@given(st.binary(max_size=300))
def test_no_bytes_crash_the_decoder(data: bytes) -> None:
    """Any bytes either decode to a valid Batch or raise DecodeError with a known reason."""
    try:
        assert isinstance(decode_batch(data), Batch)
    except DecodeError as exc:
        assert exc.reason in REASONS


def test_topics() -> None:
    assert topics.readings("gw-1") == "jagajalan/v1/gw-1/readings"
    assert topics.parse("jagajalan/v1/gw-1/status") == ("gw-1", "status")
    assert topics.shared(topics.ALL_READINGS) == "$share/ingest/jagajalan/v1/+/readings"
    for bad in ("jagajalan/v1/GW/readings", "jagajalan/v2/gw/readings", "jagajalan/v1/gw/x"):
        with pytest.raises(ValueError):
            topics.parse(bad)
    with pytest.raises(ValueError):
        topics.readings("a/b")
