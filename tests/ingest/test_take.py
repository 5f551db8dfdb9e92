"""Taking many messages at once (ingest/_json_take.h, ``IngestService._take``) changes nothing
but the cost: for any mix of packets, payloads and topics, and any way the bytes arrive, the
worker holds the same lines for the same messages, in the same order, refuses the same ones
for the same reasons, and counts the same, as when every message goes through
``_on_message`` alone. Real sockets (a socketpair) and paho's client, tuned, never connected
to a broker; the store is never written (the writer is not started)."""

from __future__ import annotations

import json
import resource
from dataclasses import replace

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import compact_path, paho_speedup, pipeline
from ingest.buffer import Item
from ingest.service import IngestService, IngestSettings, MqttSettings
from telemetry import compact, encode_batch
from telemetry.models import Batch
from testkit.ingest import batch_bytes
from testkit.strategies import batches
from tests.ingest.test_paho_direct import RESPONSE_TOPIC, feed, publish

GATEWAYS = ("gw-a", "gw-b")


class LineStore:
    """Takes line protocol (so the worker's pipeline makes lines); never written here."""

    def write_lines(self, lines) -> None:
        raise AssertionError("the writer is not started in these tests")


def service(budget: int = 0) -> IngestService:
    mqtt_settings = MqttSettings(url="mqtt://127.0.0.1:1", client_id="take-test")
    return IngestService(IngestSettings(mqtt_settings, max_buffer_bytes=budget), LineStore())


def payloads(gateway: str) -> st.SearchStrategy[bytes]:
    mine = batches.map(lambda b: b.model_copy(update={"gateway": gateway}))
    return st.one_of(
        mine.map(encode_batch),  # the gateways' layout: the C path's
        st.tuples(mine, st.booleans()).map(lambda a: compact.encode(a[0], compress=a[1])),
        mine.map(lambda b: json.dumps(json.loads(encode_batch(b)), indent=1).encode()),
        batches.map(encode_batch),  # another gateway's payload on this topic: refused
        st.binary(max_size=60),
        st.sampled_from([b"{", b"\xc1\x02\x00", b'{"v":1,"gateway":"' + gateway.encode() + b'"']),
    )


@st.composite
def packets(draw) -> bytes:
    gateway = draw(st.sampled_from(GATEWAYS))
    topic = draw(
        st.sampled_from(
            [
                f"jagajalan/v1/{gateway}/readings",
                f"jagajalan/v1/{gateway}/readings",
                f"jagajalan/v1/{gateway}/status",
                "jagajalan/v1/api/readings",  # a reserved id
                "jagajalan/v1/gw-a/other",
            ]
        )
    )
    header = draw(st.sampled_from([0x32, 0x32, 0x32, 0x32, 0x33, 0x3A]))
    props = draw(st.sampled_from([b"\x00", b"\x00", b"\x00", RESPONSE_TOPIC]))
    mid = draw(st.integers(1, 65535))
    return publish(header, topic.encode(), mid, props, draw(payloads(gateway)))


def fed(stream: bytes, cuts: list[int], bulk: bool, budget: int = 0) -> IngestService:
    """A service that read *stream* (arriving in pieces cut at *cuts*) from its socket."""
    svc = service(budget)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    assert paho_speedup.tune(client, None, True, svc._take if bulk else None)
    client.on_message = svc._on_message
    feed(client, stream, cuts)
    return svc


def messages(svc: IngestService) -> list[tuple]:
    """What the service holds, message by message: (mid, topic, gateway, lines, refusal)."""
    out = []
    for item in svc.buffer._items:
        if item.parts is None:
            mids, parts = [item.token[0]], [(item.topic, item.gateway, len(item.records))]
        else:
            mids, parts = item.token[0], item.parts
            assert item.count == len(mids) == len(parts) > 0 and item.reason is None
        lines, start = list(item.records), 0
        for mid, (topic, gateway, n) in zip(mids, parts, strict=True):
            out.append((mid, topic, gateway, lines[start : start + n], item.reason, item.error))
            start += n
        assert start == len(lines)
    return out


def counts(svc: IngestService) -> tuple:
    r, b = svc.metrics.received, svc.buffer
    newest = max([i.newest_ms for i in b._items], default=0)
    return dict(r.messages), r.readings, r.points, b.messages, b.points, newest


@settings(max_examples=150, deadline=None)
@given(st.lists(packets(), min_size=1, max_size=30), st.lists(st.integers(0, 30_000), max_size=5))
def test_taking_many_at_once_holds_what_one_at_a_time_holds(packets, cuts) -> None:
    stream = b"".join(packets)
    many, one = fed(stream, cuts, bulk=True), fed(stream, cuts, bulk=False)
    assert messages(many) == messages(one)
    assert counts(many) == counts(one)
    assert all(i.parts is None for i in one.buffer._items)


def test_the_readings_of_known_topics_are_taken_as_one_item() -> None:
    """Once a topic's first message is accepted, the next ones on it are taken together (and
    the property above is not true by never taking any)."""
    stream = b"".join(
        publish(0x32, f"jagajalan/v1/{gw}/readings".encode(), mid, b"\x00", payload)
        for mid, gw, payload in [
            (1, "gw-a", batch_bytes("gw-a", 1)),
            (2, "gw-b", compact.encode(Batch.model_validate_json(batch_bytes("gw-b", 1)))),
            *[(3 + i, GATEWAYS[i % 2], batch_bytes(GATEWAYS[i % 2], 2 + i)) for i in range(20)],
            (23, "gw-a", b"{not json"),  # refused, alone
            (24, "gw-b", batch_bytes("gw-b", 40)),
        ]
    )
    svc = fed(stream, [], bulk=True)
    items: list[Item] = list(svc.buffer._items)
    assert [i.count for i in items] == [1, 1, 20, 1, 1]
    assert items[2].token == (list(range(3, 23)), 0)
    assert [i.reason for i in items] == [None, None, None, "not_json", None]
    assert svc.buffer.messages == 24 and svc.metrics.received.messages["readings"] == 24


def test_the_byte_budget_ends_a_group() -> None:
    """A group holds at least one message and stops once its text reaches the room left."""
    body = batch_bytes("gw-a", 1)
    stream = b"".join(
        publish(0x32, b"jagajalan/v1/gw-a/readings", mid, b"\x00", body) for mid in range(1, 12)
    )
    one = len(list(fed(stream, [], bulk=True).buffer._items)[1].records.text) // 10  # ~a message
    svc = fed(stream, [], bulk=True, budget=3 * one)  # the budget holds the rest back
    assert [i.count for i in svc.buffer._items][:2] == [1, 2]  # the first, then a group of 2


def test_take_refuses_bad_arguments_with_a_clear_error() -> None:
    svc = service()
    args = (b"", 0, 1 << 20, 10_000, 16, {}, svc.encoder.series, str, None, bytes)
    assert pipeline.take(*args) is None  # nothing to take
    with pytest.raises(TypeError, match="take"):
        pipeline.take(*args[:9])
    with pytest.raises(TypeError, match="take"):
        pipeline.take("not bytes", *args[1:])
    topic = b"jagajalan/v1/gw-a/readings"
    packet = publish(0x32, topic, 1, b"\x00", batch_bytes("gw-a", 1))
    with pytest.raises(TypeError, match=r"\(topic, gateway, meta prefix\)"):
        pipeline.take(packet, *args[1:5], {topic: "gw-a"}, *args[6:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(-5, 400))
def test_any_bytes_are_taken_or_left_never_a_crash(buf, pos) -> None:
    svc = service()
    topic = b"jagajalan/v1/gw-a/readings"
    svc.bulk.known(topic.decode(), "gw-a")
    got = svc._take(b"\x32" + bytes([len(buf) & 0x7F]) + b"\x00\x1a" + topic + buf, pos)
    assert got[1] in (0, 1)


def test_an_item_of_several_messages_is_acknowledged_message_by_message(monkeypatch) -> None:
    """Its message ids go out in order with the others; on a newer connection none does, and
    every one of them counts as a stale acknowledgement."""
    svc = service()
    sent: list[list[int]] = []
    svc._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    monkeypatch.setattr(paho_speedup, "ack_many", lambda client, mids: sent.append(list(mids)))
    single = Item([], "t", token=(7, 0))
    group = Item([], "t", token=([8, 9, 10], 0), parts=[("t", "g", 0)] * 3)
    assert svc._acknowledge([single, group]) == 4
    assert sent == [[7, 8, 9, 10]]
    svc._next_connection()
    assert svc._acknowledge([replace(single, token=(11, 0)), group]) == 0
    assert sent == [[7, 8, 9, 10], []]
    assert svc.metrics.stale_acks._value.get() == 4


def test_without_the_c_modules_every_message_goes_alone(monkeypatch) -> None:
    """Where the compact reader is not built, compact payloads go through ``_on_message`` and
    JSON ones are still taken together; where neither is (a gateway without a compiler),
    there is nothing to take with and every message goes alone, with the same outcome."""
    compact_one = compact.encode(Batch.model_validate_json(batch_bytes("gw-b", 1)))
    stream = b"".join(
        publish(0x32, f"jagajalan/v1/{gw}/readings".encode(), mid, b"\x00", payload)
        for mid, gw, payload in [
            (1, "gw-a", batch_bytes("gw-a", 1)),
            (2, "gw-b", compact_one),
            (3, "gw-a", batch_bytes("gw-a", 2)),
            (4, "gw-a", batch_bytes("gw-a", 3)),
            (5, "gw-b", compact_one),
        ]
    )
    expected = messages(fed(stream, [], bulk=False))
    monkeypatch.setattr(compact_path, "_compact_lines", None)
    svc = fed(stream, [], bulk=True)
    assert [i.count for i in svc.buffer._items] == [1, 1, 2, 1]
    assert messages(svc) == expected
    monkeypatch.setattr(pipeline, "take", None)
    svc = fed(stream, [], bulk=True)
    assert svc.bulk is None and [i.count for i in svc.buffer._items] == [1] * 5
    assert messages(svc) == expected


def test_no_memory_grows_over_many_takes() -> None:
    """References and buffers are given back: 50,000 takes of a buffer of JSON, compact and
    refused messages (each stopping before the refused one) leave the peak RSS within a few
    MB."""
    svc = service()
    for gw in GATEWAYS:
        svc.bulk.known(f"jagajalan/v1/{gw}/readings", gw)
    good = batch_bytes("gw-a", 3)
    packed = compact.encode(Batch.model_validate_json(batch_bytes("gw-b", 3)), compress=True)
    stream = b"".join(
        publish(0x32, f"jagajalan/v1/{gw}/readings".encode(), mid, b"\x00", payload)
        for mid, gw, payload in [
            (1, "gw-a", good),
            (2, "gw-b", packed),
            (3, "gw-a", good.replace(b'"env1"', b'"ENV"', 1)),  # a name refused: stops here
        ]
    )
    args = (1 << 30, 10_000, 16, svc.bulk.topics, svc.encoder.series, str)
    rest = (compact_path.compact_c(), compact_path.inflate)

    def take() -> None:
        pos, _, lines, *_ = pipeline.take(stream, 0, *args, *rest)
        assert lines == 2 * 4 and pipeline.take(stream, pos, *args, *rest) is None

    take()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(50_000):
        take()
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 4096, grown_kib
