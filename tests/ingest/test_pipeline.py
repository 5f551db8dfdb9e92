"""The pure parts of ingest: the fast decode paths agree with the codec, rejections carry
their reason and gateway, dead-letter payloads, retention statements; the paho speed-ups and
the order of acknowledgements with parallel writes. No broker, no database."""

from __future__ import annotations

import base64
import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import deadletter, pipeline
from ingest.compact_path import compact_lines
from ingest.deadletter import DeadLetter
from store import retention
from telemetry import Batch, DecodeError, Reading, compact, decode_batch, encode_batch, topics
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import to_line
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS
from telemetry.units import field_kind
from testkit.ingest import T0, batch_bytes, raw_batch, wait_for
from testkit.rates import varint
from testkit.strategies import batches as _batches


def _outcome(decode, payload: bytes):
    try:
        return ("ok", decode(payload))
    except DecodeError as exc:
        return ("refused", exc.reason)


def _fast_outcome(payload: bytes) -> str:
    """Whether ingest's fast path (msgspec structs, names checked by the encoder) takes the
    payload: "ok", else "codec" (the codec decides)."""
    batch = pipeline.fast_batch(payload)
    if batch is None:
        return "codec"
    try:
        LineEncoder().reading_lines(batch.gateway, batch.readings)
    except InvalidName:
        return "codec"
    return "ok"


def _compact_outcome(payload: bytes, gateway: str = "gw-a") -> str:
    """Whether ingest's compact fast path (ingest/compact_path.py) takes the payload: "ok",
    else "codec"."""
    return "codec" if compact_lines(payload, gateway, LineEncoder()) is None else "ok"


def _agree(payload: bytes) -> None:
    """The fast path takes only what the codec accepts (then _lines_agree checks the data)."""
    if _fast_outcome(payload) == "ok" or _compact_outcome(payload) == "ok":
        assert _outcome(decode_batch, payload)[0] == "ok"


def _lines_agree(payload: bytes, topic: str = "jagajalan/v1/gw-a/readings") -> None:
    """The InfluxDB path (structs, LineEncoder) writes what the Point path writes, or refuses
    for the same reason."""
    fast = pipeline.process(topic, payload, 0, LineEncoder(max_series=3))
    slow = pipeline.process(topic, payload, 0, None)
    assert type(fast) is type(slow)
    if isinstance(slow, pipeline.Accepted):
        assert fast.points == [to_line(p) for p in slow.points]
        assert (fast.readings, fast.newest_ms) == (slow.readings, slow.newest_ms)
    else:
        assert (fast.reason, fast.gateway) == (slow.reason, slow.gateway)


@given(batch=_batches)
@settings(max_examples=200, deadline=None)
def test_fast_path_decodes_what_the_codec_decodes(batch) -> None:
    payload = encode_batch(batch)
    assert payload.startswith(b'{"v":1,')  # the fast path is taken for gateways' payloads
    assert pipeline.decode_readings(payload) == decode_batch(payload) == batch
    # Every valid payload takes the fast path, but for a count of 2**53 or more (the fast path
    # reads all numbers as floats, which are not all exact there): the codec decides.
    huge = any(
        abs(v) >= 2**53 and field_kind(k) == "int"
        for r in batch.readings
        for k, v in r.fields.items()
    )
    assert _fast_outcome(payload) == ("codec" if huge else "ok")
    _lines_agree(encode_batch(batch.model_copy(update={"gateway": "gw-a"})))


@given(batch=_batches, compress=st.sampled_from([None, False, True]))
@settings(max_examples=300, deadline=None)
def test_compact_fast_path_decodes_what_the_codec_decodes(batch, compress) -> None:
    """Compact payloads (several series of different widths, decimals and floats sent as
    themselves, compressed or not) take the compact fast path, and it writes the lines the
    codec's batch maps to; only values of 2**53 and more may be left to the codec (counts
    must be)."""
    mine = batch.model_copy(update={"gateway": "gw-a"})
    payload = compact.encode(mine, compress)
    assert decode_batch(payload) == mine
    huge = any(
        abs(v) >= 2**53 and field_kind(k) == "int"
        for r in batch.readings
        for k, v in r.fields.items()
    )
    big = any(abs(v) >= 2**53 for r in batch.readings for v in r.fields.values())
    outcome = _compact_outcome(payload)
    if huge:  # a count the fast path cannot print exactly
        assert outcome == "codec", repr(mine.readings)
    else:  # beyond 2**53 a float may be left to the codec too (the lines agree either way)
        assert outcome == "ok" or (big and outcome == "codec"), repr(mine.readings)
    assert _compact_outcome(payload, "gw-b") == "codec"  # another gateway's topic
    _lines_agree(payload)


def _time(ms: int, key: bytes = b"time", t: int = T0):
    return lambda p: p.replace(b'"%s":%d' % (key, t), b'"%s":%d' % (key, ms), 1)


#: Edits of a valid payload at the edges of the contract, and the reason both of ingest's
#: paths refuse the result with (None: accepted).
_CONTRACT_EDGES = [
    (lambda p: p.replace(b'"air_quality"', b'"gateway_batches"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"traffic"', b'"gateway_status"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"traffic"', b'"jagajalan_alerts"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"air_quality"', b'"gateway_health"', 1), None),  # a gateway's own
    (lambda p: p.replace(b'"gw-a"', b'"deadletter"', 1), "reserved_id"),
    (lambda p: p.replace(b'"gw-a"', b'"ingest-1"', 1), "reserved_id"),
    (_time(MIN_TIME_MS - 1), "invalid"),
    (_time(MIN_TIME_MS), None),
    (_time(MAX_TIME_MS - 1), None),
    (_time(MAX_TIME_MS), "invalid"),
    (_time(MAX_TIME_MS - 1, b"sent", T0 + 500), None),
    (_time(MAX_TIME_MS, b"sent", T0 + 500), "invalid"),
]


def _as_compact(payload: bytes) -> bytes:
    """A JSON batch as the compact encoding, without validating it (as another
    implementation of a gateway would send it)."""
    obj = json.loads(payload)
    readings = [Reading.model_construct(**{"tags": {}, **r}) for r in obj.pop("readings")]
    return compact.encode(Batch.model_construct(**obj, readings=readings))


@pytest.mark.parametrize(("mutate", "reason"), _CONTRACT_EDGES)
@pytest.mark.parametrize("encoding", ["json", "compact"])
def test_both_paths_refuse_reserved_names_and_times_out_of_range(
    mutate, reason: str | None, encoding: str
) -> None:
    payload = mutate(batch_bytes("gw-a", 1))
    assert payload != batch_bytes("gw-a", 1)
    if encoding == "compact":
        payload = _as_compact(payload)
    for encoder in (LineEncoder(), None):
        result = pipeline.process(topics.readings("gw-a"), payload, 0, encoder)
        if reason is None:
            assert isinstance(result, pipeline.Accepted), result
        else:
            assert isinstance(result, pipeline.Rejected), result
            assert (result.reason, result.gateway) == (reason, "gw-a")


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
    lambda p: p.replace(b'"pm10"', b'"PM10"'),
    lambda p: p.replace(b'"env1"', b'"env1\\n"'),
    lambda p: p.replace(b'{"lane":"1"}', b"{}", 1),  # empty tags: same as none
    lambda p: p.replace(b'"lane":"1"', b'"lanes":"1"', 1),  # not a tag of the contract
    lambda p: p.replace(b'"lane":"1"', b'"lane":"1","lane":"x y"', 1),
    lambda p: p.replace(b'"lane":"1"', b'"lane":"1","direction":"in"', 1),
    lambda p: p.replace(b'"count":0', b'"count":' + b"9" * 30, 1),  # a huge count
    lambda p: p.replace(b'"count":0', b'"count":1.5', 1),
    lambda p: p.replace(b"20.5", b"-0.0"),
    lambda p: p.replace(b"20.5", b"1e-05"),
    lambda p: p.replace(b"20.5", b"0.00012"),
    lambda p: p.replace(b"20.5", b"12345678901234567890.5"),
    lambda p: p.replace(b"20.5", b"20"),  # an integer in a float field
    lambda p: p.replace(b'"pm10":20.5', b'"pm10":20.5,"pm1":1.0', 1),
    lambda p: p.replace(b'"time":', b'"time":1.0,"time":', 1),
    lambda p: p.replace(b'"seq":', b'"seq":-1,"seq":', 1),
    *(m for m, _ in _CONTRACT_EDGES),
]


@pytest.mark.parametrize("mutate", _MUTATIONS)
def test_fast_path_refuses_and_accepts_exactly_like_the_codec(mutate) -> None:
    payload = mutate(batch_bytes("gw-a", 1))
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)
    _agree(payload)
    _lines_agree(payload)


def _compact_edit(mutate) -> bytes | None:
    """The edited batch in the compact encoding; None when the edit leaves no batch that
    encoding can carry (not JSON, not an object, readings that are no list...)."""
    try:
        return _as_compact(mutate(batch_bytes("gw-a", 1)))
    except (ValueError, TypeError, AttributeError, OverflowError, KeyError):
        return None


_COMPACT_EDITS = [p for p in map(_compact_edit, _MUTATIONS) if p is not None]


def test_most_edits_reach_the_compact_path() -> None:
    assert len(_COMPACT_EDITS) >= len(_MUTATIONS) - 3, len(_COMPACT_EDITS)


@pytest.mark.parametrize("payload", _COMPACT_EDITS)
def test_compact_fast_path_refuses_and_accepts_exactly_like_the_codec(payload: bytes) -> None:
    """The same edits, sent in the compact encoding (those that are still JSON objects)."""
    _agree(payload)
    _lines_agree(payload)


@pytest.mark.parametrize("used", [0, 1])
def test_compact_fast_path_reads_one_series_of_several_widths(used: int) -> None:
    """A body whose readings all belong to one schema, beside a schema of another width that
    no reading uses (another gateway implementation may send one): the values are read at
    the used schema's width."""
    strings = ["env1", "air_quality", "pm25", "pm10", "humidity"]
    schemas = [[0, 1, [2, 3, 4], [None, None, None], []], [0, 1, [2], [1], []]]
    rows = [0, 0, 1.5, 2.5, 3.5, 0, 1, 4.5, 5.5, 6.5] if used == 0 else [1, 0, 415, 1, 1, 1]
    body = ["gw-a", 7, T0, strings, schemas, [T0, 1000], rows]
    payload = bytes((compact.MAGIC, 2, 0)) + msgpack.packb(body)
    assert _compact_outcome(payload) == "ok"
    _lines_agree(payload)


@given(
    data=st.data(),
    compress=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_compact_fast_path_agrees_with_the_codec_on_corrupted_payloads(
    data, compress, edits
) -> None:
    """Bytes of a compact payload changed anywhere (also in the zlib stream): the compact
    fast path accepts only what the codec accepts, with the same lines."""
    payload = bytearray(
        compact.encode(decode_batch(batch_bytes("gw-a", data.draw(st.integers(0, 100)))), compress)
    )
    for position, replacement in edits:
        i = position % (len(payload) + 1)
        payload[i : i + len(replacement)] = replacement
    payload = bytes(payload)
    _agree(payload)
    _lines_agree(payload)


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
    _agree(payload)
    _lines_agree(payload)


_EDGE_TIMES = [MIN_TIME_MS - 1, MIN_TIME_MS, T0, MAX_TIME_MS - 1, MAX_TIME_MS]


@given(
    gateway=st.sampled_from(["gw-a", "gw-b", "deadletter", "ingest", "api", "jagajalan-x"]),
    measurement=st.sampled_from(
        ["air_quality", "gateway_health", "gateway_batches", "gateway_status", "jagajalan_x"]
    ),
    times=st.lists(st.sampled_from(_EDGE_TIMES), min_size=2, max_size=2),
    on_own_topic=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_fast_path_agrees_with_the_codec_at_the_contract_edges(
    gateway: str, measurement: str, times: list[int], on_own_topic: bool
) -> None:
    """Reserved gateway ids (in the payload and in the topic), reserved measurements and the
    first and last milliseconds of the time range: the fast paths decide as the codec."""
    reading = {"sensor": "env1", "measurement": measurement, "time": times[0]}
    reading["fields"] = {"seq": 1.5, "pm25": 2.0}
    obj = {"v": 1, "gateway": gateway, "seq": 3, "sent": times[1], "readings": [reading]}
    payload = json.dumps(obj, separators=(",", ":")).encode()
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)
    _agree(payload)
    topic = f"jagajalan/v1/{gateway if on_own_topic else 'gw-a'}/readings"
    _lines_agree(payload, topic)
    _lines_agree(_as_compact(payload), topic)


def test_rejections_name_the_reason_and_the_gateway() -> None:
    encoder = LineEncoder()
    cases = {
        # "deadletter" is never a gateway: no gateway is named, as for a bad topic
        ("jagajalan/v1/deadletter/readings", raw_batch(gateway="deadletter")): (
            "reserved_id",
            None,
        ),
        ("jagajalan/v1/ingest/status", b'{"v":1,"gateway":"ingest","state":"online"}'): (
            "reserved_id",
            None,
        ),
        (topics.readings("gw-a"), raw_batch(gateway="api")): ("reserved_id", "gw-a"),
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
        "not_json",
        topics.readings("gw-a"),
        "gw-a",
        "payload is not JSON",
        T0,
        (),
        b"\xff{x",
        "ingest-1",
    )
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


def test_bulk_acks_are_the_bytes_of_one_ack_each() -> None:
    import paho.mqtt.client as mqtt

    from ingest import paho_speedup

    def queued(bulk: bool, mids: list[int]) -> bytes:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.manual_ack_set(True)
        if bulk:
            assert paho_speedup.tune(client)
            paho_speedup.ack_many(client, mids)
        else:
            for mid in mids:
                client.ack(mid, 1)
        return b"".join(bytes(p["packet"]) for p in client._out_packet)

    mids = [1, 2, 255, 256, 4660, 65535]
    assert (
        queued(True, mids)
        == queued(False, mids)
        == b"".join(bytes([0x40, 0x02, mid >> 8, mid & 0xFF]) for mid in mids)
    )
    assert queued(True, []) == b""


def test_buffered_socket_reads_ahead_and_says_what_it_holds() -> None:
    import socket

    from ingest import paho_speedup

    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        sock = paho_speedup.BufferedSocket(b)
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        a.sendall(b"\x32\x05hello\x40")
        assert sock.recv(1) == b"\x32" and sock.pending() == 7
        assert sock.recv(1) == b"\x05"
        assert sock.recv(100) == b"hello\x40"[:100] and sock.pending() == 0
        assert sock.fileno() == b.fileno()  # everything else is the socket's
        a.close()
        assert sock.recv(1) == b""  # closed
    finally:
        b.close()


def test_parallel_writes_acknowledge_in_the_order_taken() -> None:
    import threading

    from ingest.metrics import IngestMetrics
    from ingest.writer import Buffer, Item, Writer, WriterHooks

    first_write = threading.Event()
    release_first = threading.Event()
    acked: list[str] = []
    written: list[str] = []

    def write(records) -> None:
        if records[0] == "a" and not first_write.is_set():
            first_write.set()
            assert release_first.wait(10)  # the second batch is written meanwhile
        written.append(records[0])

    hooks = WriterHooks(
        write=write,
        ensure=lambda: None,
        render=str,
        acknowledge=lambda items: acked.extend(i.topic for i in items),
    )
    buffer = Buffer()
    writer = Writer(hooks, buffer, IngestMetrics(), batch_size=1, max_delay=0.01, parallel=2)
    writer.start()
    for name in "abcd":
        buffer.put(Item([name], name))
    assert first_write.wait(10)
    wait_for(lambda: len(written) >= 1, 10, "the second batch to be written")
    assert acked == []  # "b" is stored, but waits for "a"
    release_first.set()
    wait_for(lambda: len(acked) == 4, 10, "all acknowledged")
    writer.stop(1)
    writer.join(10)
    assert acked == ["a", "b", "c", "d"] and buffer.messages == 0 and not writer.is_alive()


def test_tuned_client_reads_every_buffered_packet_in_one_turn() -> None:
    import socket
    import struct

    import paho.mqtt.client as mqtt

    from ingest import paho_speedup

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    assert paho_speedup.tune(client)
    got: list[tuple[str, int, bytes]] = []
    client.on_message = lambda c, u, m: got.append((m.topic, m.mid, m.payload))
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        client._sock = paho_speedup.BufferedSocket(b)

        def publish(mid: int) -> bytes:  # QoS 1, MQTT 5, no properties
            topic = f"jagajalan/v1/gw-{mid}/readings".encode()
            body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + b"\x00"
            body += b'{"v":1}' * mid  # lengths from 1 to several bytes of remaining length
            return b"\x32" + varint(len(body)) + body

        a.sendall(b"".join(publish(mid) for mid in range(1, 31)))
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
        assert [m for _, m, _ in got] == list(range(1, 31))  # one turn of paho's loop
        assert got[29] == ("jagajalan/v1/gw-30/readings", 30, b'{"v":1}' * 30)
        a.sendall(publish(31)[:5])  # half a packet: read what is there, wait for the rest
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS and len(got) == 30
        a.sendall(publish(31)[5:])
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS and got[-1][1] == 31
    finally:
        client._sock = None
        a.close()
        b.close()


def test_a_status_is_stored_with_its_details_and_one_point_per_device() -> None:
    payload = json.dumps(
        {
            "v": 1,
            "gateway": "gw-a",
            "state": "online",
            "time": T0,
            "devices": {"wl1": "unplugged", "env1": "ok"},
            "spool_depth": 7,
            "dropped": 0,
            "clock_offset": 0.25,
            "last_error": {"wl1": "port gone"},
            "version": "0.2.0",
            "firmware": {"env1": "1.3"},
        }
    ).encode()
    topic = topics.status("gw-a")
    points = pipeline.process(topic, payload, T0 + 99)
    lines = pipeline.process(topic, payload, T0 + 99, LineEncoder())
    assert isinstance(points, pipeline.Accepted) and isinstance(lines, pipeline.Accepted)
    assert lines.points == [to_line(p) for p in points.points]
    device = "jagajalan_device_status,device={},gateway=gw-a state={},last_error={}"
    assert lines.points == [
        'gateway_status,gateway=gw-a state="online",spool_depth=7i,dropped=0i,'
        f'clock_offset=0.25,version="0.2.0" {T0}',
        device.format("wl1", '"unplugged"', '"port gone"')
        + f',stuck="",errors=0i,firmware="" {T0}',
        device.format("env1", '"ok"', '""') + f',stuck="",errors=0i,firmware="1.3" {T0}',
    ]
    # A Last Will carries no time and no details: its state, at the time it was received.
    will = pipeline.process(topic, b'{"v":1,"gateway":"gw-a","state":"offline"}', T0 + 99)
    assert isinstance(will, pipeline.Accepted)
    assert [to_line(p) for p in will.points] == [
        f'gateway_status,gateway=gw-a state="offline" {T0 + 99}'
    ]
