"""ingest/paho_speedup.py's direct PUBLISH path hands ``on_message`` what paho's own decoding
hands it: the same messages (topic, payload, mid, QoS, flags, properties), in the same order,
for any mix of packets and any way the bytes arrive (cut anywhere, several packets at once).
Real sockets (a socketpair); the client is paho's, tuned, never connected to a broker."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
from hypothesis import given
from hypothesis import strategies as st

from ingest import paho_speedup
from testkit.rates import varint

RESPONSE_TOPIC = bytes([6, 0x01, 0x01, 0x08, 0x00, 0x01]) + b"r"  # properties: format 1, "r"


def publish(header: int, topic: bytes, mid: int, props: bytes, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if header & 0x06:  # QoS 1 or 2 carry a packet id
        body += struct.pack("!H", mid)
    body += props + payload
    return bytes([header]) + varint(len(body)) + body


topics_ = st.sampled_from(
    [b"jagajalan/v1/gw-a/readings", b"jagajalan/v1/gw-b/status", "jagajalan/v1/gw-é/x".encode()]
)
packets = st.one_of(
    st.builds(  # what the direct path takes: QoS 1, no flags, no properties
        publish,
        st.just(0x32),
        topics_,
        st.integers(1, 65535),
        st.just(b"\x00"),
        st.binary(max_size=300),
    ),
    st.builds(  # what it leaves to paho: QoS 0, DUP, RETAIN, properties
        publish,
        st.sampled_from([0x30, 0x31, 0x33, 0x3A, 0x32]),
        topics_,
        st.integers(1, 65535),
        st.sampled_from([b"\x00", RESPONSE_TOPIC]),
        st.binary(max_size=300),
    ),
    st.just(b"\xd0\x00"),  # PINGRESP
)


def received(stream: bytes, cuts: list[int], direct: bool) -> list[tuple]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    assert paho_speedup.tune(client, direct=direct)
    got: list[tuple] = []

    def on_message(c, userdata, m) -> None:
        props = m.properties.json() if m.properties is not None else {}
        got.append((m.topic, m.payload, m.mid, m.qos, bool(m.dup), bool(m.retain), props))

    client.on_message = on_message
    feed(client, stream, cuts)
    return got


def feed(client: mqtt.Client, stream: bytes, cuts: list[int]) -> None:
    """*client* (tuned) reads *stream* from a socket, arriving in pieces cut at *cuts*."""
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        client._sock = paho_speedup.BufferedSocket(b)
        start = 0
        for end in [*sorted(set(cuts)), len(stream)]:
            if end <= start:
                continue
            a.sendall(stream[start:end])
            start = end
            for _ in range(len(stream) + 2):  # until what arrived is all handled
                assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
                if not client._sock.pending():
                    break
        assert client._in_packet["command"] == 0  # no packet left half read
    finally:
        client._sock = None
        a.close()
        b.close()


@given(st.lists(packets, min_size=1, max_size=40), st.lists(st.integers(0, 12_000), max_size=6))
def test_direct_publishes_reach_on_message_as_paho_decodes_them(packets, cuts) -> None:
    stream = b"".join(packets)
    direct = received(stream, cuts, direct=True)
    assert direct == received(stream, cuts, direct=False)
    assert len(direct) == sum(p[0] != 0xD0 for p in packets)  # every PUBLISH, once


def test_the_direct_path_is_taken_only_for_plain_qos1_publishes() -> None:
    """The packets above really take the direct path (a Publish), the others paho's."""
    seen: list[type] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    assert paho_speedup.tune(client, direct=True)
    client.on_message = lambda c, u, m: seen.append(type(m))
    topic = b"jagajalan/v1/gw-a/readings"
    plain = [publish(0x32, topic, mid, b"\x00", b'{"v":1}') for mid in (1, 2, 3)]
    others = [publish(0x33, topic, 4, b"\x00", b"r"), publish(0x32, topic, 5, RESPONSE_TOPIC, b"")]
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        client._sock = paho_speedup.BufferedSocket(b)
        a.sendall(b"".join([*plain, *others, plain[0]]))
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    finally:
        client._sock = None
        a.close()
        b.close()
    # The first packet is read by paho (its read fills the buffer), the next two directly,
    # the retained one and the one with properties by paho, the last one directly again.
    fast, slow = paho_speedup.Publish, mqtt.MQTTMessage
    assert seen == [slow, fast, fast, slow, slow, fast]


def test_packets_cut_by_a_read_are_completed_from_the_socket() -> None:
    """Batches of 50 readings are about 7 KB: a 64 KiB read ends inside one of every nine.
    The direct path reads the rest itself (paho would otherwise take that packet), keeping
    the order, and an end of stream it meets on the way is still paho's to see."""
    got: list[tuple[type, int]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    assert paho_speedup.tune(client, direct=True)
    client.on_message = lambda c, u, m: got.append((type(m), m.mid))
    topic = b"jagajalan/v1/gw-a/readings"
    stream = b"".join(publish(0x32, topic, mid, b"\x00", b"x" * 7000) for mid in range(1, 21))
    a, b = socket.socketpair()
    try:
        a.settimeout(10)
        a.sendall(stream)  # 140 KB: all of it waits in the socket (two reads and more)
        a.close()
        b.setblocking(False)
        client._sock = paho_speedup.BufferedSocket(b)
        rc = client.loop_read()
        assert rc == mqtt.MQTT_ERR_SUCCESS
        assert [mid for _, mid in got] == list(range(1, 21))  # each once, in order
        # paho read the first packet (its read filled the buffer), the direct path the rest
        assert [kind for kind, _ in got] == [mqtt.MQTTMessage] + [paho_speedup.Publish] * 19
        assert client.loop_read() == mqtt.MQTT_ERR_CONN_LOST  # the end reached paho
    finally:
        client._sock = None
        b.close()
