"""``jagajalan alerts run``: the rules over every gateway's readings and status, live.

An MQTT 5 client of its own (client id ``<user>.<random>``: every instance has its own
session) subscribes, QoS 1, to every gateway's readings and status; paho's thread hands each
message to the :class:`~alerts.evaluator.Evaluator`, and the main thread evaluates every
``--every`` seconds, taking or renewing the lease first (alerts/lease.py): only the holder
writes. The registry's database holds the alerts (read by the API and ``alerts list``), the
silences and the acknowledgements; after each evaluation the holder writes the open alerts'
counts into the store for Grafana (alerts/gauge.py).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from alerts import lease
from alerts.evaluator import Evaluator
from alerts.gauge import Gauge, open_alerts
from alerts.indicators import IndicatorFeed
from kernel import mqtt
from telemetry import topics

log = logging.getLogger("alerts")

LEASE = "alerts"


class Service:
    def __init__(
        self,
        evaluator: Evaluator,
        registry: Engine,
        address: mqtt.BrokerAddress,
        protocol: str,
        *,
        username: str | None,
        password: str | None,
        client_id: str | None,
        ca_file: str | None,
        every_s: float,
        lease_ttl_s: float,
        clock: Callable[[], float] = time.time,
        indicators: IndicatorFeed | None = None,
        indicators_every_s: float = 30.0,
        gauge: Gauge | None = None,
    ) -> None:
        self.gauge = gauge
        self.indicators, self.indicators_every_s = indicators, indicators_every_s
        self.indicators_at = 0.0
        self.evaluator, self.registry, self.clock = evaluator, registry, clock
        self.every_s, self.lease_ttl_s = every_s, lease_ttl_s
        self.holder = client_id or f"{username or 'alerts'}.{secrets.token_hex(4)}"
        self.acting = False
        evaluator.leader = lambda: self.acting
        self.client = mqtt.new_client(
            self.holder,
            "5" if protocol == "5" else "3.1.1",
            username=username,
            password=password,
            address=address,
            tls=mqtt.Tls(ca_file) if ca_file else None,
        )
        self.address = address
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *_a, **_k: self.connected.clear()

    def _on_connect(self, client, _userdata, _flags, reason, _props=None) -> None:  # type: ignore[no-untyped-def]
        code = reason.value if hasattr(reason, "value") else int(reason)
        if code != 0:
            log.error("event=alerts_connect_refused broker=%s reason=%s", self.address, reason)
            return
        client.subscribe([(topics.ALL_READINGS, 1), (topics.ALL_STATUS, 1)])

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props=None) -> None:  # type: ignore[no-untyped-def]
        """Connected once the broker has the subscription (its SUBACK): a message published
        after ``alerts_connected`` is logged reaches this instance."""
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("event=alerts_subscribe_refused broker=%s reasons=%s", self.address, failed)
            return
        self.connected.set()
        log.info("event=alerts_connected broker=%s client_id=%s", self.address, self.holder)

    def _on_message(self, _client, _userdata, message) -> None:  # type: ignore[no-untyped-def]
        self.evaluator.message(message.topic, message.payload, int(self.clock() * 1000))

    def run(self, stop: threading.Event) -> None:
        restored = self.evaluator.restore()
        log.info("event=alerts_started holder=%s open_alerts=%d", self.holder, restored)
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        try:
            while not stop.wait(self.every_s):
                self.step()
        finally:
            self.client.loop_stop()
            self.client.disconnect()
            if self.acting:
                lease.release(self.registry, LEASE, self.holder)
            log.info("event=alerts_stopped holder=%s", self.holder)

    def step(self) -> None:
        now = self.clock()
        if self.indicators is not None and now - self.indicators_at >= self.indicators_every_s:
            self.indicators_at = now
            self.evaluator.observe(self.indicators.poll(now))
        try:
            acting = lease.hold(self.registry, LEASE, self.holder, now, self.lease_ttl_s)
            if acting and not self.acting:
                restored = self.evaluator.restore()  # what the previous holder wrote
                log.info("event=alerts_acting holder=%s open_alerts=%d", self.holder, restored)
            elif self.acting and not acting:
                log.warning("event=alerts_standby holder=%s", self.holder)
            self.acting = acting
            notes = self.evaluator.evaluate(now)
        except Exception as exc:  # the database away: evaluate again next time
            log.warning("event=alerts_evaluation_failed error=%r", str(exc).splitlines()[0])
            self.acting = False
            return
        if notes:
            log.info("event=alerts_evaluated notifications=%d", len(notes))
        if self.acting and self.gauge is not None:
            self.gauge.write(open_alerts(self.evaluator), now)
