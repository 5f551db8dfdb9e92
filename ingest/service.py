"""The ingest worker: MQTT (paho 2.x, MQTT v5) -> pipeline -> buffer -> writer -> store.

The paho callback only decodes and maps (the pure :func:`ingest.pipeline.process`) and queues
the result; the writer thread (:mod:`ingest.writer`) does all store I/O. Messages are
acknowledged manually (``manual_ack=True``), after their points are stored, in the order they
arrived. With a fixed client id, ``clean_start=False`` and a session expiry, the broker keeps
what was not acknowledged across a crash or restart of the worker and redelivers it.

Memory is bounded by MQTT 5 flow control: the CONNECT property *Receive Maximum*
(``max_inflight``) caps the QoS 1 messages the broker sends before they are acknowledged.
While the store is down, nothing gets acknowledged, so the broker stops sending once that
many are buffered and queues the rest in the session (Mosquitto: set
``max_queued_messages 0`` or large enough so that its queue does not drop them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest import pipeline
from ingest.metrics import IngestMetrics
from ingest.store.base import Store
from ingest.writer import Buffer, Item, Writer
from jagajalan.mqtt import Protocol, Tls, negotiate_protocol, new_client, parse_url
from telemetry import topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttSettings:
    url: str = "mqtt://127.0.0.1:1883"  # mqtt://host[:port] or mqtts://host[:port]
    client_id: str = "jagajalan-ingest"
    protocol: Protocol = "auto"  # MQTT 5 unless the broker only speaks 3.1.1 (amqtt demo)
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    shared_group: str | None = None
    session_expiry: int = 86_400  # seconds the broker keeps the session while we are away
    max_inflight: int = 1_000  # MQTT 5 Receive Maximum: unacknowledged messages at most
    keepalive: int = 30


@dataclass(frozen=True)
class IngestSettings:
    mqtt: MqttSettings
    batch_size: int = 5_000  # flush when this many points wait...
    max_delay: float = 0.2  # ...or when the oldest waiting message is this old (s)
    retry_max_delay: float = 5.0  # longest pause between retries of a failed write (s)
    drain_timeout: float = 10.0  # at shutdown, keep retrying the last writes this long (s)
    metrics_port: int = 0  # 0 = no /metrics endpoint


class IngestService:
    def __init__(
        self,
        settings: IngestSettings,
        store: Store,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.clock = clock
        self.buffer = Buffer()
        self.writer = Writer(
            store,
            self.buffer,
            self.metrics,
            batch_size=settings.batch_size,
            max_delay=settings.max_delay,
            retry_max_delay=settings.retry_max_delay,
        )
        self.subscribed = threading.Event()
        self.metrics_port = 0
        self._generation = 0  # bumped on every (re)connection; acks of older ones are void
        self._draining = False
        self._client: mqtt.Client | None = None
        self.protocol: str = "5"
        self.metrics.buffer_points.set_function(lambda: self.buffer.points)
        self.metrics.buffer_messages.set_function(lambda: self.buffer.messages)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start writing. Raises (before starting anything)
        if the TLS files cannot be loaded or the metrics port cannot be bound."""
        m = self.settings.mqtt
        address = parse_url(m.url)
        tls = Tls(ca_file=m.ca_file)
        self.protocol = negotiate_protocol(
            address, m.protocol, username=m.username, password=m.password, tls=tls
        )
        client = new_client(
            m.client_id,
            self.protocol,
            username=m.username,
            password=m.password,
            address=address,
            tls=tls,
        )
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.metrics_port = self.metrics.serve(self.settings.metrics_port)
        if self.metrics_port:
            log.info("metrics on http://0.0.0.0:%d/metrics", self.metrics_port)
        self._client = client
        self.writer.start()
        log.info("connecting to %s as %r (MQTT %s)", address, m.client_id, self.protocol)
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = m.session_expiry
            props.ReceiveMaximum = m.max_inflight
            client.connect_async(
                address.host, address.port, m.keepalive, clean_start=False, properties=props
            )
        else:  # 3.1.1: a persistent session (clean_session=False, set by new_client)
            client.connect_async(address.host, address.port, m.keepalive)
        client.loop_start()

    def stop(self) -> None:
        """Stop taking messages, write and acknowledge what is buffered, disconnect."""
        self._draining = True
        self.writer.stop(self.settings.drain_timeout)
        self.writer.join()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self.metrics.close()
        log.info("ingest stopped")

    def run(self, stop: threading.Event) -> int:
        """Run until *stop* is set (by a signal handler, say), then stop cleanly. Returns 0,
        or 1 if the writer thread ended by itself (which it should never do)."""
        self.start()
        try:
            while not stop.wait(0.5):
                if not self.writer.is_alive():
                    log.error("the writer thread ended unexpectedly; stopping")
                    return 1
            return 0
        finally:
            self.stop()

    # -- MQTT ---------------------------------------------------------------------------

    def filters(self) -> list[str]:
        group = self.settings.mqtt.shared_group
        readings = topics.shared(topics.ALL_READINGS, group) if group else topics.ALL_READINGS
        return [readings, topics.ALL_STATUS]

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self._generation += 1
        log.info("connected (session present: %s)", flags.session_present)
        # Retained statuses only when the subscription is new: a resumed session already
        # holds whatever was published while we were away.
        if self.protocol == "5":
            opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(f, opts) for f in self.filters()])
        else:
            client.subscribe([(f, 1) for f in self.filters()])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused the subscriptions %s: %s", self.filters(), failed)
            return
        log.info("subscribed to %s", ", ".join(self.filters()))
        self.metrics.connected.set(1)
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.metrics.connected.set(0)
        self.subscribed.clear()
        if not self._draining:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._draining:
            return  # not acknowledged: the broker redelivers it to the next session
        kind = message.topic.rsplit("/", 1)[-1]
        label = kind if kind in (topics.READINGS, topics.STATUS) else "other"
        self.metrics.messages.labels(label).inc()
        try:
            result = pipeline.process(message.topic, message.payload, int(self.clock() * 1000))
        except Exception as exc:  # a bug must not kill paho's network thread
            log.exception("could not process a message on %s", message.topic)
            result = pipeline.Rejected("internal", repr(exc))
        points: list = []
        if isinstance(result, pipeline.Rejected):
            self.metrics.malformed.labels(result.reason).inc()
            log.warning(
                "refused message on %s: %s: %s; payload %s",
                message.topic,
                result.reason,
                result.message,
                pipeline.preview(message.payload),
            )
        else:
            points = result.points
        ack = partial(self._ack, message.mid, message.qos, self._generation)
        self.buffer.put(Item(points, ack))

    def _ack(self, mid: int, qos: int, generation: int) -> None:
        # A message received on an earlier connection is redelivered by the broker on the
        # current one (and written again, which is harmless); acking the old id is void.
        if qos > 0 and generation == self._generation and self._client is not None:
            self._client.ack(mid, qos)
