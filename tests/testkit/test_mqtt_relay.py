"""The MQTT relay's packet splitter (testkit/mqtt_relay.py), on bytes as they arrive."""

from __future__ import annotations

from testkit.mqtt_relay import split_packets
from testkit.rates import varint


def test_relay_splits_packets_as_they_come() -> None:
    topic = b"jagajalan/v1/gw-a/readings"
    body = len(topic).to_bytes(2, "big") + topic + (7).to_bytes(2, "big") + b"\x00" + b"x" * 200
    publish = b"\x3a" + varint(len(body)) + body  # QoS 1, DUP, a two-byte remaining length
    acks = b"\x40\x02\x00\x07\x40\x02\x01\x00"
    buf = bytearray(publish + acks + publish[:2])
    assert split_packets(buf) == [publish, acks[:4], acks[4:]]
    assert bytes(buf) == publish[:2]  # the length is not complete yet
    buf += publish[2:5]
    assert split_packets(buf) == [] and bytes(buf) == publish[:5]
    buf += publish[5:]
    assert split_packets(buf) == [publish] and not buf
