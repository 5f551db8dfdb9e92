"""The pure parts of ingest around the decode paths: rejections carry their reason and
gateway, dead-letter payloads, retention statements; the paho speed-ups and the order of
acknowledgements with parallel writes; a status becomes its points. No broker, no database.
(The decode paths against the codec: test_pipeline.py.)"""

from __future__ import annotations

import base64
import json

import pytest

from ingest import deadletter, pipeline
from ingest.deadletter import DeadLetter
from store import retention
from telemetry import topics
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import to_line
from testkit.ingest import T0, batch_bytes, raw_batch, wait_for
from testkit.rates import varint


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

    from ingest.buffer import Buffer, Item
    from ingest.metrics import IngestMetrics
    from ingest.writer import Writer, WriterHooks

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
