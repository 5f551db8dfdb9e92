"""The pure parts of ingest: the fast decode path agrees with the codec, rejections carry
their reason and gateway, dead-letter payloads, retention statements. No I/O."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import deadletter, pipeline, retention
from ingest.deadletter import DeadLetter
from telemetry import DecodeError, decode_batch, encode_batch, topics
from telemetry.mapping import LineEncoder
from tests.ingest_helpers import T0, batch_bytes, raw_batch
from tests.test_line_protocol import _batches


def _outcome(decode, payload: bytes):
    try:
        return ("ok", decode(payload))
    except DecodeError as exc:
        return ("refused", exc.reason)


@given(batch=_batches)
@settings(max_examples=200, deadline=None)
def test_fast_path_decodes_what_the_codec_decodes(batch) -> None:
    payload = encode_batch(batch)
    assert payload.startswith(b'{"v":1,')  # the fast path is taken for gateways' payloads
    assert pipeline.decode_readings(payload) == decode_batch(payload) == batch


_MUTATIONS = [
    lambda p: p.replace(b'{"v":1,', b'{"v":true,', 1),
    lambda p: p.replace(b'{"v":1,', b'{"v":1.0,', 1),
    lambda p: p.replace(b'{"v":1,', b'{"v":2,', 1),
    lambda p: p.replace(b'{"v":1,', b"{", 1),
    lambda p: p[:-1] + b',"v":true}',
    lambda p: p[:-1] + b',"seq":1.5}',
    lambda p: p[:-1] + b',"extra":1}',
    lambda p: b" " + p,
    lambda p: b"\xef\xbb\xbf" + p,
    lambda p: p + b" x",
    lambda p: p.replace(b"20.5", b"NaN"),
    lambda p: p.replace(b"20.5", b"Infinity"),
    lambda p: p.replace(b"20.5", b"1e400"),
    lambda p: p.replace(b"20.5", b"2" + b"0" * 40),
    lambda p: p.replace(b"20.5", b'"20.5"'),
    lambda p: p.replace(b"20.5", b"true"),
    lambda p: p.replace(b'"env1"', b'"env1\\u0000"'),
    lambda p: p.replace(b'"env1"', b'"\\ud800"'),
    lambda p: p.replace(b'"sensor"', b'"sensor","sensor":"x"'),
    lambda p: p.replace(b'"pm10"', b'"v"'),  # a field named v: not the version key
]


@pytest.mark.parametrize("mutate", _MUTATIONS)
def test_fast_path_refuses_and_accepts_exactly_like_the_codec(mutate) -> None:
    payload = mutate(batch_bytes("gw-a", 1))
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)


@given(
    data=st.data(),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_fast_path_agrees_with_the_codec_on_corrupted_payloads(data, edits) -> None:
    payload = bytearray(batch_bytes("gw-a", data.draw(st.integers(0, 100))))
    for position, replacement in edits:
        i = position % (len(payload) + 1)
        payload[i : i + len(replacement)] = replacement
    payload = bytes(payload)
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)


def test_rejections_name_the_reason_and_the_gateway() -> None:
    encoder = LineEncoder()
    cases = {
        (topics.readings("gw-a"), b"{nope"): ("not_json", "gw-a"),
        (topics.readings("gw-a"), raw_batch(v=99)): ("unsupported_version", "gw-a"),
        (topics.readings("gw-a"), batch_bytes("gw-b", 1)): ("gateway_mismatch", "gw-a"),
        (topics.readings("gw-a"), b""): ("empty", "gw-a"),
        ("jagajalan/v1/Bad_GW/readings", batch_bytes("gw-a", 1)): ("bad_topic", None),
    }
    for (topic, payload), (reason, gateway) in cases.items():
        result = pipeline.process(topic, payload, 0, encoder)
        assert isinstance(result, pipeline.Rejected), result
        assert (result.reason, result.gateway) == (reason, gateway)
        assert result.message


def test_store_errors_map_to_dead_letter_reasons() -> None:
    conflict = (
        'InfluxDB refused (HTTP 400): partial write: field type conflict: input field "humidity"'
        ' on measurement "air_quality" is type float, already exists as type integer dropped=1'
    )
    assert deadletter.store_reason(conflict) == "field_type_conflict"
    beyond = "partial write: points beyond retention policy dropped=1"
    assert deadletter.store_reason(beyond) == "beyond_retention"
    assert deadletter.store_reason("unable to parse 'x': invalid field format") == "unparsable"
    assert deadletter.store_reason("partial write: max-values-per-tag limit exceeded") == (
        "limit_exceeded"
    )
    assert deadletter.store_reason("something new") == "store_rejected"
    assert deadletter.topic("not_json") == "jagajalan/v1/deadletter/not_json"


def test_dead_letter_payloads() -> None:
    refused = DeadLetter(
        "not_json", topics.readings("gw-a"), "gw-a", "payload is not JSON", T0, (), b"\xff{x",
        "ingest-1",
    )  # fmt: skip
    obj = json.loads(refused.encode())
    assert obj == {
        "v": 1,
        "reason": "not_json",
        "topic": "jagajalan/v1/gw-a/readings",
        "gateway": "gw-a",
        "error": "payload is not JSON",
        "time": T0,
        "worker": "ingest-1",
        "payload_b64": base64.b64encode(b"\xff{x").decode(),
        "payload_bytes": 3,
    }
    assert refused.dead_letter_topic == "jagajalan/v1/deadletter/not_json"
    line = "air_quality,gateway=gw-a,sensor=env1 humidity=80.0 1764489600000"
    point = DeadLetter("field_type_conflict", "t", "gw-a", "conflict", T0, [line], None, "w")
    obj = json.loads(point.encode())
    assert obj["points"] == [line] and obj["points_total"] == 1 and "payload_b64" not in obj
    huge = DeadLetter("not_json", "t", None, "e", T0, (), b"x" * (3 << 20), "w")
    obj = json.loads(huge.encode())
    assert len(base64.b64decode(obj["payload_b64"])) == deadletter.MAX_PAYLOAD_BYTES
    assert (obj["payload_bytes"], obj["truncated"]) == (3 << 20, True)
    many = DeadLetter("beyond_retention", "t", "g", "e", T0, [line] * 100_000, None, "w")
    obj = json.loads(many.encode())
    assert obj["truncated"] is True and obj["points_total"] == 100_000
    assert 0 < len(obj["points"]) < 100_000 and len(many.encode()) < 3 << 20


def test_retention_statements_and_settings() -> None:
    cqs = retention.cq_statements("jagajalan", retention.RetentionSettings())
    assert set(cqs) == {"rollup_1m", "rollup_1m_sum", "rollup_1h", "rollup_1h_sum"}
    assert cqs["rollup_1h"] == (
        'CREATE CONTINUOUS QUERY "rollup_1h" ON "jagajalan" RESAMPLE EVERY 1h FOR 2h BEGIN '
        'SELECT mean(*), min(*), max(*), count(*) INTO "jagajalan"."rollup_1h".:MEASUREMENT '
        'FROM "jagajalan"."raw"./.*/ GROUP BY time(1h), * END'
    )
    assert 'sum("count") AS "sum_count"' in cqs["rollup_1m_sum"]
    assert retention.duration_seconds("90d") == 90 * 86400
    assert retention.duration_seconds("1h30m") == 5400
    assert retention.duration_seconds("INF") == float("inf")
    with pytest.raises(ValueError, match="not a duration"):
        retention.duration_seconds("90 days")
    bad = retention.RetentionSettings(raw="30m", rollup_1m="forever")
    assert bad.problems() == [
        ("raw", "30m", "InfluxDB keeps data at least 1h: use 1h or more"),
        ("rollup_1m", "forever", "'forever' is not a duration such as 90d, 12h, 2w or INF"),
    ]


def test_fast_publish_properties_decode_like_paho() -> None:
    import struct

    from paho.mqtt import _packet
    from paho.mqtt.enums import MQTTProtocolVersion
    from paho.mqtt.properties import Properties

    from ingest import paho_speedup

    def publish(props: bytes) -> bytes:  # variable header and payload of a QoS 1 PUBLISH
        topic = b"jagajalan/v1/gw-a/readings"
        return struct.pack("!H", len(topic)) + topic + b"\x00\x07" + props + b'{"v":1}'

    with_props = bytes([6, 0x01, 0x01, 0x08, 0x00, 0x01]) + b"r"  # format 1, response topic r
    for props in (b"\x00", with_props):
        packet = publish(props)
        original = _packet.decode_publish(0x32, packet, MQTTProtocolVersion.MQTTv5)
        fast_cls = paho_speedup.FastProperties
        try:
            _packet.Properties = fast_cls
            fast = _packet.decode_publish(0x32, packet, MQTTProtocolVersion.MQTTv5)
        finally:
            _packet.Properties = Properties
        assert type(fast.properties) is fast_cls
        assert fast._replace(properties=None) == original._replace(properties=None)
        assert fast.properties.json() == original.properties.json()
    assert fast.properties.ResponseTopic == "r" and fast.properties.PayloadFormatIndicator == 1
    assert fast_cls(0x03).json() == {}  # a fresh one shares tables, not values
