"""The MQTT side of the gateway: one connection, the retained status, batches from the spool.

paho-mqtt 2.2 in its threaded mode (``loop_start``) keeps the connection: it reconnects with
exponential backoff (``reconnect_delay_set``) and re-sends unacknowledged QoS 1 messages after
a reconnect. On top of that, one publish thread of ours does every ``publish()``:

* the retained ``online`` status (:mod:`gateway.runtime.health`) after each connect, every
  ``status_interval`` and when a device state changes; the broker holds the Last Will
  (retained ``offline``) for the case where the gateway vanishes, and a clean
  :meth:`Publisher.stop` publishes ``offline`` itself;
* batches from the spool at QoS 1, at most ``max_inflight`` awaiting their PUBACK, encoded
  as ``[publish] encoding`` says. After each connect, what was waiting in the spool is
  replayed oldest first at ``replay_rate`` while fresh readings go out at once
  (:mod:`gateway.runtime.replay`);
* the spool's periodic fsync (:meth:`gateway.runtime.spool.Spool.sync`), also while disconnected.

It subscribes to its own ``cmd`` topic after each connect (:mod:`gateway.runtime.commands`).

paho's network thread only records events (``on_publish`` puts ``(mid, reason)`` on a queue,
``on_connect`` sets a flag) and wakes the publish thread, which acks the spool rows of the
batch with that mid. Because the same thread publishes and consumes the PUBACKs, a PUBACK that
arrives before ``publish()`` has returned its mid cannot be missed. A batch the broker refuses
(PUBACK with a failure reason, e.g. "Not authorized" from the ACL, or from the shipped broker's
ingest gate right after a restart, until ingest has subscribed again) stays in the spool and is
re-sent with the same seq after ``retry_delay``. So does a batch the broker accepted with reason
0x10 "No matching subscribers" (MQTT 5): nobody received it (ingest not running, no gate), and
deleting it from the spool would lose it (docs/protocol.md, section 4).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import GatewayConfig
from gateway.runtime.commands import CommandInbox
from gateway.runtime.health import Health
from gateway.runtime.mqtt_link import ProblemLog, identity, link_args
from gateway.runtime.replay import Replay, backlog_slots
from gateway.runtime.spool import Batch as SpoolBatch
from gateway.runtime.spool import Spool, SpoolError
from kernel.mqtt import negotiate_protocol, new_client, unheard
from telemetry import topics
from telemetry.codec import encode_batch, encode_status
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, Batch, Status, valid_time

log = logging.getLogger(__name__)

#: Seconds between two change-triggered status messages (a flapping device must not flood).
MIN_STATUS_SPACING = 1.0

Lane = Literal["fresh", "backlog"]


class Publisher:
    def __init__(
        self,
        config: GatewayConfig,
        spool: Spool,
        health: Health,
        *,
        clock: Callable[[], float] = time.time,
        retry_delay: float = 5.0,
    ) -> None:
        self.config = config
        self.gateway = config.gateway.id
        self.spool = spool
        self.health = health
        self.clock = clock
        self.retry_delay = retry_delay
        self.status_topic = topics.status(self.gateway)
        self.readings_topic = topics.readings(self.gateway)
        self.commands = CommandInbox(self.gateway, config.spool_path.parent)  # its cmd topic
        self.published_batches = 0
        self.batches_unheard = 0  # acknowledged with "No matching subscribers": kept, re-sent
        self.batches_refused = 0  # refused by the broker (ACL, ingest gate): kept, re-sent
        self.replay = Replay(config.publish.replay_rate)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, ReasonCode]] = queue.SimpleQueue()
        self._inflight: dict[int, tuple[int, list[int], Lane]] = {}  # mid -> seq, rows, lane
        self._status_mids: set[int] = set()
        self.statuses_acked = 0  # status messages the broker acknowledged (the health file)
        self._status_due = False
        self._last_status = float("-inf")
        self._last_devices: object = None  # Health.changes() at the last status
        self._paused_until = 0.0
        self._flush_deadline = 0.0
        self.problems = ProblemLog()
        self._thread: threading.Thread | None = None
        self.client = self._build_client()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        mqtt_cfg = self.config.mqtt
        log.info(
            "gateway %s: connecting to %s as %s",
            self.gateway,
            mqtt_cfg.url,
            mqtt_cfg.username or "(anonymous)",
        )
        unacked = self.spool.unacknowledged()
        if unacked:
            log.info(
                "%d batch(es) (seq %d..%d, %d readings) were published before the last stop "
                "without a PUBACK; they are re-sent with the same seq",
                len(unacked),
                unacked[0][0],
                unacked[-1][0],
                sum(count for _, count in unacked),
            )
        if mqtt_cfg.protocol != "5":
            link = link_args(self.config)
            address = link.pop("address")
            protocol = negotiate_protocol(address, mqtt_cfg.protocol, **link)
            if protocol != "5":
                self.client = self._build_client(protocol)
        self.client.connect_async(mqtt_cfg.host, mqtt_cfg.port, keepalive=mqtt_cfg.keepalive)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New readings are in the spool (called by the drivers' sinks)."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self, flush_timeout: float = 3.0) -> None:
        """Publish what is ready (up to *flush_timeout*), then ``offline``, then disconnect."""
        self._flush_deadline = time.monotonic() + flush_timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(flush_timeout + 5)
        if self.connected:
            info = self.client.publish(
                self.status_topic, encode_status(self.health.status("offline")), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as exc:  # the connection went away meanwhile
                log.warning("could not publish the offline status: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()
        log.info("gateway %s: publisher stopped", self.gateway)

    # -- the publish thread -------------------------------------------------------------------

    def _run(self) -> None:
        publish = self.config.publish
        tick = min(0.5, max(0.05, publish.max_delay))
        was_connected = False
        while True:
            self._wake.wait(tick)
            self._wake.clear()
            try:
                self._handle_acks()
                self.spool.sync()
                stopping = self._stopping.is_set()
                if stopping and self._flushed():
                    return
                connected = self.connected
                if connected and not was_connected:
                    self._begin_replay()
                was_connected = connected
                if connected:
                    self._maybe_publish_status()
                    self._publish_batches(0.0 if stopping else publish.max_delay)
            except SpoolError as exc:  # disk full or failing: say so once, keep retrying
                self.problems.problem("spool", "%s; retrying", exc)
                time.sleep(1.0)
            except Exception:
                log.exception("publisher: unexpected error; carrying on")
                time.sleep(1.0)

    def _flushed(self) -> bool:
        if not self.connected or time.monotonic() >= self._flush_deadline:
            return True
        return not self._inflight and self.spool.depth() == 0

    def _begin_replay(self) -> None:
        """Connected (again): what waits in the spool now is the backlog."""
        boundary = self.spool.last_id()
        self.replay.begin(boundary)
        if boundary is not None:
            log.info(
                "replaying %d waiting reading(s) oldest first at up to %g readings/s; "
                "new readings go out first",
                self.spool.depth(),
                self.config.publish.replay_rate,
            )

    def _publish_batches(self, max_delay: float) -> None:
        publish = self.config.publish
        while len(self._inflight) < publish.max_inflight and time.monotonic() >= self._paused_until:
            lane: Lane = "fresh"
            batch = self.spool.next_batch(
                publish.max_batch, max_delay, after=self.replay.fresh_after()
            )
            if batch is None:
                batch = self._backlog_batch()
                if batch is None:
                    return
                lane = "backlog"
                self.replay.took(len(batch[1]))
            seq, readings, row_ids = batch
            payload = encode_batch(
                Batch(gateway=self.gateway, seq=seq, sent=self._now_ms(), readings=readings),
                publish.encoding,
            )
            info = self.client.publish(self.readings_topic, payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # NO_CONN is fine: paho keeps the message and sends it after reconnecting.
                log.warning("batch seq %d not queued by paho (%s); retrying", seq, info.rc)
                self.spool.release(seq)
                self._paused_until = time.monotonic() + self.retry_delay
                return
            self._inflight[info.mid] = (seq, row_ids, lane)
            log.debug("%s batch seq %d (%d readings), mid %d", lane, seq, len(readings), info.mid)

    def _backlog_batch(self) -> SpoolBatch | None:
        replay = self.replay
        if not replay.active:
            return None
        in_flight = sum(1 for *_, lane in self._inflight.values() if lane == "backlog")
        if in_flight >= backlog_slots(self.config.publish.max_inflight) or not replay.may_send():
            return None
        batch = self.spool.next_batch(self.config.publish.max_batch, up_to=replay.boundary)
        if batch is None and in_flight == 0:
            oldest = self.spool.oldest_id()
            assert replay.boundary is not None
            if oldest is None or oldest > replay.boundary:
                sent, seconds = replay.finish()
                if sent:
                    log.info("backlog replayed: %d reading(s) in %.0f s", sent, seconds)
        return batch

    def _handle_acks(self) -> None:
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                return
            entry = self._inflight.pop(mid, None)
            if entry is None:
                if mid in self._status_mids:
                    self._status_mids.discard(mid)
                    self.statuses_acked += not reason.is_failure
                    if reason.is_failure:
                        self.problems.refused(
                            f"status:{reason.value}",
                            "broker refused the status on %s: %s (does the ACL let %s "
                            "publish there?)",
                            self.status_topic,
                            reason.getName(),
                            identity(self.config),
                        )
                continue
            seq, row_ids, _lane = entry
            if unheard(reason):
                self.problems.refused(
                    "batch:unheard",
                    "broker has no subscriber for %s (is ingest running?); keeping batch seq %d, "
                    "retry in %.0f s",
                    self.readings_topic,
                    seq,
                    self.retry_delay,
                    level=logging.WARNING,
                )
                self.batches_unheard += 1
                self.spool.release(seq)
                self._paused_until = time.monotonic() + self.retry_delay
                continue
            if reason.is_failure:
                self.problems.refused(
                    f"batch:{reason.value}",
                    "broker refused batch seq %d on %s: %s (does the ACL let %s publish there? "
                    "after a broker restart: has ingest subscribed again?); keeping it, retry in "
                    "%.0f s",
                    seq,
                    self.readings_topic,
                    reason.getName(),
                    identity(self.config),
                    self.retry_delay,
                )
                self.batches_refused += 1
                self.spool.release(seq)
                self._paused_until = time.monotonic() + self.retry_delay
                continue
            self.spool.ack(row_ids)
            self.published_batches += 1

    def _maybe_publish_status(self) -> None:
        now = time.monotonic()
        devices = self.health.changes()
        changed = devices != self._last_devices and now - self._last_status >= MIN_STATUS_SPACING
        interval = now - self._last_status >= self.config.publish.status_interval
        if not (self._status_due or changed or interval):
            return
        self._status_due = False
        self._last_status = now
        self._last_devices = devices
        payload = encode_status(self.health.status("online"))
        info = self.client.publish(self.status_topic, payload, qos=1, retain=True)
        self._status_mids.add(info.mid)

    def _now_ms(self) -> int:
        """Now in ms for ``sent``; an unset clock (before 2000) is clamped into range."""
        ms = int(self.clock() * 1000)
        if valid_time(ms):
            return ms
        log.warning("gateway clock is not set (%d ms); check NTP", ms)
        return min(max(ms, MIN_TIME_MS), MAX_TIME_MS - 1)

    # -- paho ---------------------------------------------------------------------------------

    def _build_client(self, protocol: Literal["5", "3.1.1"] = "5") -> mqtt.Client:
        cfg = self.config.mqtt
        client = new_client(self.gateway, protocol, **link_args(self.config))
        # Exactly {"v": 1, "gateway": <id>, "state": "offline"} (docs/protocol.md, section 3).
        will = Status(gateway=self.gateway, state="offline")
        will_payload = will.model_dump_json(include={"v", "gateway", "state"}).encode()
        client.will_set(self.status_topic, will_payload, qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min, cfg.reconnect_max)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = lambda _c, _u, m: self.commands.handle(m.topic, m.payload)
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        url, user = self.config.mqtt.url, self.config.mqtt.username or "(anonymous)"
        if reason.is_failure:
            self.problems.problem(
                f"refused:{reason.value}",
                "broker %s refused the connection of %s as user %s: %s; "
                "check the username and password file; retrying",
                url,
                self.gateway,
                user,
                reason.getName(),
            )
            return
        self.problems.clear()
        log.info("gateway %s: connected to %s as %s", self.gateway, url, user)
        client.subscribe(self.commands.topic, qos=1)  # retained: the newest command arrives
        self._status_due = True
        self._connected.set()
        self._wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        hint = " or the TLS handshake failed (check ca_file, certfile, keyfile)"
        self.problems.problem(
            "unreachable",
            "cannot reach broker %s%s; readings stay in the spool; retrying",
            self.config.mqtt.url,
            hint if self.config.mqtt.tls else "",
        )

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self._connected.is_set():
            self._connected.clear()
            if not self._stopping.is_set():
                log.warning("gateway %s: lost the broker (%s); reconnecting", self.gateway, reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._acks.put((mid, reason))
        self._wake.set()
