"""The ingest worker: MQTT (paho 2.x, MQTT v5) -> pipeline -> buffer -> writer -> store.

The paho callback only decodes and encodes (the pure :func:`ingest.pipeline.process`) and
queues the result (readings messages on topics it accepted before are taken many at once,
in C: ingest/bulk.py); the writer thread (:mod:`ingest.writer`) does all store I/O and
publishes dead letters. Messages are acknowledged manually (``manual_ack=True``), all the
messages of a batch at once after the batch is stored, in the order they arrived. With a
fixed client id, ``clean_start=False`` and a session expiry, the broker keeps what was not
acknowledged across a crash or restart of the worker and redelivers it.

Flow control, in bytes: while the messages not yet acknowledged hold ``max_buffer_bytes`` (their
lines, about), paho's loop reads nothing more (ingest/paho_speedup.py) but goes on writing
acknowledgements and PINGREQs; the broker's messages wait in the socket and in the broker.
In messages: the CONNECT property *Receive Maximum* (``max_inflight``, up to 65,535) caps the
QoS 1 messages the broker sends before they are acknowledged. It is large by default so that
several write batches can be in flight (the window never caps throughput), and it bounds
memory: while the store is down nothing gets acknowledged, the broker stops sending once that
many are buffered and queues the rest in the session (Mosquitto: ``max_queued_messages 0``).

Acknowledgements go out only on the connection that delivered their message. Packet ids
are per connection: an ack for a message of connection N sent on connection N+1 would
acknowledge whatever the broker has under that id there (or nothing), while the broker
redelivers the original anyway. So every message carries the generation of its connection
(one int), the generation moves on as soon as paho reports the connection gone (before it
opens the next), and acks of an older generation are dropped and counted; the broker
redelivers those messages on the resumed session, and writing a point again is harmless
(its identity is measurement, tags and time).

Shared subscriptions (``$share/<group>/...``): Mosquitto 2.0.11 keeps the unacknowledged and
newly assigned messages of a member that disconnected in that member's session until it comes
back or the session expires (then they are lost); it does not hand them to the other members.
So each worker needs a stable client id of its own and must be restarted (docs/scaling.md).

The store is only written, never set up: the worker holds a :class:`~store.base.StoreWriter`
whose user needs WRITE and nothing else; until the store is ready it writes and acknowledges
nothing and says what is missing (:mod:`ingest.readiness`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest import paho_speedup, pipeline
from ingest.buffer import Buffer, Item, item_size, messages
from ingest.bulk import Bulk
from ingest.letters import LetterPublisher
from ingest.metrics import IngestMetrics
from ingest.readiness import StoreReadiness
from ingest.service_settings import IngestSettings, MqttSettings
from ingest.writer import Writer, WriterHooks
from kernel.mqtt import Tls, negotiate_protocol, new_client, parse_url
from store.base import StoreWriter
from telemetry import topics
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import to_line

# The settings live in ingest/service_settings.py; importers take them from here too.
__all__ = ["IngestService", "IngestSettings", "MqttSettings"]

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self,
        settings: IngestSettings,
        store: StoreWriter,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.clock = clock
        self.buffer = Buffer()
        write_lines = getattr(store, "write_lines", None)
        # Stores that take line protocol get it straight from the pipeline (no Point objects).
        self.encoder = LineEncoder() if write_lines is not None else None
        self.readiness = StoreReadiness(store, "ingest", interval=settings.retry_max_delay)
        self.letters = LetterPublisher(self._connected, settings.mqtt.dead_letter_timeout)
        hooks = WriterHooks(
            write=self.readiness.guard(write_lines or store.write),
            ensure=self.readiness.check,
            render=(lambda r: r) if write_lines is not None else to_line,
            acknowledge=self._acknowledge,
            publish=self.letters.publish,
            redelivered=self._redelivered,
            worker=settings.mqtt.client_id,
            clock_ms=lambda: int(self.clock() * 1000),
        )
        self.writer = Writer(
            hooks,
            self.buffer,
            self.metrics,
            batch_size=settings.batch_size,
            max_delay=settings.max_delay,
            retry_max_delay=settings.retry_max_delay,
            max_attempts=settings.max_attempts,
            # Several writes in flight keep InfluxDB busy while the worker encodes the next;
            # only for stores with their own connection pool (InfluxDB's HTTP client).
            parallel=settings.parallel_writes if write_lines is not None else 1,
        )
        self.subscribed = threading.Event()
        self.metrics_port = 0
        # The broker connection messages now arrive on: bumped (on paho's thread) as soon as
        # one is gone; acks of messages of an older one are void. _ack_lock makes "check the
        # generation, queue the acks" one step against the bump.
        self._generation = 0
        self._ack_lock = threading.Lock()
        self._resumed = 0  # messages received before this generation were redelivered to it
        self._draining = False
        self._last_message = time.monotonic()
        self._left = False  # --leave: the session is drained and may end
        self._client: mqtt.Client | None = None
        self.protocol: str = "5"
        self.bulk = (
            Bulk(
                self.encoder,
                self.buffer,
                self.metrics,
                settings.batch_size,
                settings.max_buffer_bytes,
            )
            if self.encoder is not None and pipeline.take is not None
            else None
        )
        self.metrics.buffer_points.set_function(lambda: self.buffer.points)
        self.metrics.unacked.set_function(lambda: self.buffer.messages)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start writing. Raises (before starting anything)
        if the TLS files cannot be loaded or the metrics port cannot be bound."""
        m = self.settings.mqtt
        address = parse_url(m.url)
        tls = Tls(ca_file=m.ca_file)
        if self.settings.paho_speedup:
            paho_speedup.install()
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
        limit = self.settings.max_buffer_bytes
        hold = (lambda timeout: not self.buffer.wait_below(limit, timeout)) if limit else None
        bulk = self._take if self.bulk is not None else None
        tuned = self.settings.paho_speedup and paho_speedup.tune(client, hold, True, bulk)
        if not tuned and limit:
            log.warning("event=no_byte_budget: memory is bounded by --max-inflight messages only")
        # First retry after 0.1 s (doubling to 30 s): after a broker restart the workers are
        # back and subscribed before gateways (1 s by default) publish. Mosquitto does not
        # restore shared subscriptions; the shipped broker's ingest gate refuses readings
        # until a worker subscribes again (docs/reliability.md section 5), so the sooner the
        # workers are back, the shorter the gateways wait.
        client.reconnect_delay_set(min_delay=0.1, max_delay=30)  # type: ignore[arg-type]
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)  # our own publishes: dead letters
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_disconnect = self._on_disconnect
        client.on_pre_connect = self._on_pre_connect
        client.on_message = self._on_message
        client.on_publish = self.letters.on_publish
        self.metrics_port = self.metrics.serve(self.settings.metrics_port)
        if self.metrics_port:
            log.info("event=metrics url=http://0.0.0.0:%d/metrics", self.metrics_port)
        self._client = client
        self.writer.start()
        log.info(
            "event=connecting broker=%s client_id=%s mqtt=%s receive_maximum=%d batch_size=%d"
            " max_delay=%s",
            address,
            m.client_id,
            self.protocol,
            m.max_inflight,
            self.settings.batch_size,
            self.settings.max_delay,
        )
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
            props = None
            if self._left and self.protocol == "5":
                props = Properties(PacketTypes.DISCONNECT)
                props.SessionExpiryInterval = 0  # the broker forgets the session now
            self._client.disconnect(properties=props)
            self._client.loop_stop()
        self.metrics.close()
        log.info("event=stopped")

    def run(self, stop: threading.Event) -> int:
        """Run until *stop* is set (by a signal handler, say), then stop cleanly. Returns 0,
        or 1 if the writer thread ended by itself (which it should never do)."""
        self.start()
        idle = self.settings.leave_after_idle
        try:
            self.readiness.poll()
            while not stop.wait(0.5):
                self.readiness.poll()
                if not self.writer.is_alive():
                    log.error("event=writer_died: the writer thread ended unexpectedly; stopping")
                    return 1
                quiet = time.monotonic() - self._last_message
                drained = self.subscribed.is_set() and self.buffer.messages == 0
                if idle is not None and drained and quiet >= idle:
                    log.info("event=left: session drained, ending it")
                    self._left = True
                    return 0
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
            log.error("event=connect_refused reason=%r", str(reason_code))
            return
        generation = self._generation
        if flags.session_present:
            self._resumed = generation
            # The broker resends every unacknowledged message of the session: forget the
            # copies still waiting here, so that memory stays within one receive window.
            dropped = self.buffer.drop_waiting(
                lambda i: i.token is None or i.token[1] == generation
            )
            if dropped:
                log.info("event=resumed dropped_waiting=%d (the broker redelivers them)", dropped)
        log.info("event=connected session_present=%s", flags.session_present)
        if self.settings.leave_after_idle is not None:
            # Leaving: take no new share of the group; what the session holds still comes.
            self._last_message = time.monotonic()
            client.unsubscribe(self.filters())
            return
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
            log.error("event=subscribe_refused filters=%s reasons=%s", self.filters(), failed)
            return
        log.info("event=subscribed filters=%s", ",".join(self.filters()))
        log.info("subscribed to %s", ", ".join(self.filters()))  # demo and tests wait for it
        self.metrics.connected.set(1)
        self.subscribed.set()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        log.info("event=unsubscribed filters=%s (leaving)", ",".join(self.filters()))
        self.metrics.connected.set(1)
        self.subscribed.set()

    def _next_connection(self) -> None:
        """From now on, acks of the messages received so far are stale. Runs on paho's thread
        when a connection is gone, before paho opens the next one: an ack queued before this
        is queued on the old connection (paho empties its out-queue when reconnecting), any
        later one is dropped by :meth:`_acknowledge`."""
        with self._ack_lock:
            self._generation += 1

    def _on_pre_connect(self, client, userdata) -> None:
        self._next_connection()  # in case a connection ended without on_disconnect

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._next_connection()
        self.metrics.connected.set(0)
        self.subscribed.clear()
        if not self._draining:
            log.warning("event=disconnected reason=%r: reconnecting", str(reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._draining:
            return  # not acknowledged: the broker redelivers it to the next session
        self._last_message = time.monotonic()
        topic = message.topic
        payload = message.payload
        token = (message.mid, self._generation) if message.qos > 0 else None
        try:
            result = pipeline.process(
                topic, payload, int(self.clock() * 1000), self.encoder, self.encoder is not None
            )
        except Exception as exc:  # a bug must not kill paho's network thread
            log.exception("event=pipeline_error topic=%s", topic)
            result = pipeline.Rejected(pipeline.INTERNAL, repr(exc))
        received = self.metrics.received
        if isinstance(result, pipeline.Accepted):
            if result.kind == topics.READINGS and self.bulk is not None:
                self.bulk.known(topic, result.gateway)
            received.messages[result.kind] += 1
            received.readings += result.readings
            received.points += len(result.points)
            item = Item(result.points, topic, result.gateway, result.newest_ms, token=token)
            item.size = item_size(result.points, None)
        else:
            kind = topic.rsplit("/", 1)[-1]
            received.messages[kind if kind in ("readings", "status") else "other"] += 1
            self.metrics.malformed.labels(result.reason).inc()
            log.warning(
                "event=refused topic=%s reason=%s error=%r payload=%s",
                topic,
                result.reason,
                result.message,
                pipeline.preview(payload),
            )
            item = Item([], topic, result.gateway, 0, result.reason, result.message, payload, token)
            item.size = item_size((), payload)
        self.buffer.put(item)

    def _take(self, buf: bytes, pos: int) -> tuple[int, int]:
        """paho_speedup's bulk callback: many readings messages at once (ingest/bulk.py)."""
        if self._draining or self.bulk is None:
            return pos, 0  # _on_message takes them (draining: drops them unacknowledged)
        end, taken = self.bulk.take(buf, pos, self._generation)
        if taken:
            self._last_message = time.monotonic()
        return end, taken

    def _acknowledge(self, items: Sequence[Item]) -> int:
        """Ack *items* received on the current connection; returns how many were done. One
        received on an earlier connection is redelivered by the broker on this one (and
        written again, which is harmless): its ack is dropped, never sent here."""
        client = self._client
        if client is None:
            return 0
        with self._ack_lock:
            generation = self._generation
            mids, stale = [], 0
            for token in [i.token for i in items if i.token is not None]:
                many = type(token[0]) is list  # an item of several messages (ingest/bulk.py)
                if token[1] == generation:
                    if many:
                        mids += token[0]
                    else:
                        mids.append(token[0])
                else:
                    stale += len(token[0]) if many else 1
            paho_speedup.ack_many(client, mids)
        if stale:
            self.metrics.stale_acks.inc(stale)
            log.info(
                "event=stale_acks_dropped messages=%d: received on a broker connection that is"
                " gone; the broker redelivers them",
                stale,
            )
        return messages(items) - stale

    def _connected(self) -> mqtt.Client | None:
        return self._client if self.subscribed.is_set() else None

    def _redelivered(self, item: Item) -> bool:
        return item.token is not None and item.token[1] < self._resumed
