"""The worker's memory bounded in bytes, against a real Mosquitto and a real InfluxDB.

The store is real; the writes are held back by a gate in front of it (an Event the test
opens), standing in for an InfluxDB that is slow or down, which cannot be timed here.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from ingest.metrics import IngestMetrics
from ingest.service import IngestService, IngestSettings, MqttSettings
from store.influx import InfluxStore
from telemetry import Batch, Reading, encode_batch, topics
from testkit.ingest import RECENT, Publisher, wait_for
from testkit.services import Influx, Mosquitto

pytestmark = pytest.mark.services

MESSAGES = 60
PER = 100  # readings a message: about 10 KB of lines each


def _payload(seq: int, encoding: str) -> bytes:
    readings = [
        Reading(
            sensor="env1",
            measurement="air_quality",
            time=RECENT + (seq * PER + i) * 1000,
            fields={"pm25": 10.0 + i / 10, "pm10": 20.5, "humidity": 80.0 + seq},
        )
        for i in range(PER)
    ]
    batch = Batch(gateway="gw-m", seq=seq, sent=RECENT + seq, readings=readings)
    return encode_batch(batch, encoding)  # type: ignore[arg-type]


class Gated:
    """The real store, its writes waiting for the gate."""

    def __init__(self, influx: Influx, database: str, gate: threading.Event) -> None:
        self.store, self.gate = InfluxStore(influx.url, database), gate

    def __getattr__(self, name):
        return getattr(self.store, name)

    def write_lines(self, lines):
        self.gate.wait(60)
        return self.store.write_lines(lines)


LIMIT = 100_000


def _service(broker: Mosquitto, client_id: str, store: Gated) -> IngestService:
    settings = IngestSettings(
        MqttSettings(url=broker.url, client_id=client_id, keepalive=1),
        max_delay=0.05,
        batch_size=PER + 1,  # one message a write: the first write holds one message only
        parallel_writes=1,
        max_buffer_bytes=LIMIT,
    )
    return IngestService(settings, store, IngestMetrics())  # type: ignore[arg-type]


def test_reading_waits_at_the_byte_budget_and_the_connection_stays_alive(
    broker: Mosquitto, influx: Influx, influx_db: str
) -> None:
    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    gate = threading.Event()
    service = _service(
        broker, f"test-budget-{uuid.uuid4().hex[:8]}", Gated(influx, influx_db, gate)
    )
    service.start()
    pub = Publisher(broker.port)
    try:
        assert service.subscribed.wait(10)
        client = service._client
        assert client is not None
        pings = []
        send_ping = client._send_pingreq
        client._send_pingreq = lambda: (pings.append(1), send_ping())[1]
        generation = service._generation
        for seq in range(MESSAGES):
            pub.send(topics.readings("gw-m"), _payload(seq, "compact" if seq % 2 else "json"))
        wait_for(lambda: service.buffer.bytes >= LIMIT, 10, "the budget filled")
        # Held: keepalive goes on (PINGREQs every second), the connection is the same one.
        wait_for(lambda: len(pings) >= 3, 10, "three PINGREQs while reading is held")
        assert service._generation == generation
        assert service.buffer.messages < MESSAGES  # the rest waits in the broker
        gate.set()
        wait_for(lambda: store.count("gateway_batches") == MESSAGES, 30, "every batch stored")
        wait_for(lambda: service.buffer.messages == 0, 10, "every message acknowledged")
        assert service._generation == generation  # never reconnected
    finally:
        gate.set()
        pub.close()
        service.stop()
    assert store.count("air_quality") == MESSAGES * PER  # no loss, no duplicate
    biggest = max(service.buffer.peak_bytes - LIMIT, 0)
    assert service.buffer.peak_bytes < LIMIT + 20_000, biggest  # one message beyond, at most


def test_a_backlog_of_compact_messages_is_read_up_to_the_budget_not_a_read_at_once(
    broker: Mosquitto, influx: Influx, influx_db: str
) -> None:
    """Compact payloads of regular readings are about 100 bytes for 10 KB of lines, so one
    64 KiB read of a backlog (queued in the session while the worker was away) holds hundreds
    of messages: the worker takes them up to the budget and leaves the rest unread."""
    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    gate = threading.Event()
    client_id = f"test-backlog-{uuid.uuid4().hex[:8]}"
    away = _service(broker, client_id, Gated(influx, influx_db, gate))
    away.start()  # the persistent session and its subscription; then away
    assert away.subscribed.wait(10)
    away.stop()
    messages = 200
    pub = Publisher(broker.port)
    for seq in range(messages):
        pub.send(topics.readings("gw-m"), _payload(seq, "compact"))
    pub.close()
    service = _service(broker, client_id, Gated(influx, influx_db, gate))
    service.start()
    try:
        wait_for(lambda: service.buffer.bytes >= LIMIT, 10, "the budget filled")
        assert service.buffer.messages < messages // 5  # 200 messages hold ~2 MB of lines
        gate.set()
        wait_for(lambda: store.count("gateway_batches") == messages, 30, "every batch stored")
        wait_for(lambda: service.buffer.messages == 0, 10, "every message acknowledged")
    finally:
        gate.set()
        service.stop()
    assert store.count("air_quality") == messages * PER  # no loss, no duplicate
    biggest = max(service.buffer.peak_bytes - LIMIT, 0)
    assert service.buffer.peak_bytes < LIMIT + 20_000, biggest  # one message beyond, at most
