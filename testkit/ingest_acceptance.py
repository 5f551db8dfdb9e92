"""Helpers for the ingest acceptance tests: a steady stream of readings published in a thread,
a dead-letter collector, and counting what InfluxDB holds."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from store.influx import InfluxStore
from telemetry import topics
from testkit.ingest import RECENT


def stream_payload(gateway: str, seq: int, per: int) -> bytes:
    """A valid batch of *per* air-quality readings; every reading of every batch of a gateway
    has its own time (1 s apart), so each one is a point of its own."""
    t0 = RECENT + seq * per * 1000
    readings = ",".join(
        f'{{"sensor":"env1","measurement":"air_quality","time":{t0 + i * 1000},'
        f'"fields":{{"pm25":{seq + i / 10},"humidity":80.5}}}}'
        for i in range(per)
    )
    return (
        f'{{"v":1,"gateway":"{gateway}","seq":{seq},"sent":{t0 + 500},"readings":[{readings}]}}'
    ).encode()


@dataclass
class Stream:
    """Publishes batches round-robin from *gateways* at *rate* messages/s (QoS 1) until
    stopped; every message is confirmed by the broker (PUBACK) before it counts as sent."""

    port: int
    gateways: tuple[str, ...] = ("acc-1", "acc-2", "acc-3", "acc-4")
    rate: float = 20.0
    per: int = 5
    sent_messages: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        n = 0
        pending = []
        while not self._stop.is_set():
            due = started + n / self.rate
            if due > time.monotonic():
                self._stop.wait(due - time.monotonic())
                continue
            gateway = self.gateways[n % len(self.gateways)]
            seq = n // len(self.gateways)
            body = stream_payload(gateway, seq, self.per)
            pending.append(self.client.publish(topics.readings(gateway), body, qos=1))
            n += 1
            while pending and pending[0].is_published():
                pending.pop(0)
                self.sent_messages += 1
        for info in pending:
            info.wait_for_publish(30)
            self.sent_messages += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def sent_readings(self) -> int:
        return self.sent_messages * self.per


class DeadLetters:
    """Subscribes (QoS 1) to every dead-letter topic and keeps what arrives; *auth* is a
    (username, password) pair for brokers that refuse anonymous clients."""

    def __init__(self, port: int, auth: tuple[str, str] | None = None) -> None:
        self.received: list[tuple[str, dict]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if auth is not None:
            self.client.username_pw_set(*auth)
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = lambda c, u, m: self.received.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("jagajalan/v1/deadletter/#", qos=1)
        self.client.loop_start()
        if not ready.wait(10):
            raise TimeoutError("dead-letter subscription not confirmed")

    def reasons(self) -> list[str]:
        return sorted(topic.rsplit("/", 1)[-1] for topic, _ in self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(url: str, db: str) -> tuple[int, int]:
    """(readings, batches) InfluxDB holds: points of air_quality and gateway_batches."""
    store = InfluxStore(url, db)
    try:
        return store.count("air_quality"), store.count("gateway_batches")
    finally:
        store.close()
