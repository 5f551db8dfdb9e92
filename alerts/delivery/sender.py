"""The sender loop: claims due notifications from the outbox, hands each to its channel and
records the outcome (outbox.py holds the guarantees). Several senders, in one process or in
several alerts instances, can share an outbox.

Metrics (Prometheus, on the registry the service passes; kernel/metrics.py serves it):
``jagajalan_alert_delivery_attempts_total{channel,outcome}`` (outcome sent | failed),
``jagajalan_alert_delivery_seconds{channel}`` (one send) and
``jagajalan_alert_outbox_notifications{state}`` (pending | sent | failed, set each pass).
Logs name the notification's key, channel and the error text: never a secret (the channels
redact their own).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine

from alerts.delivery import outbox
from alerts.delivery.channels import Channel, DeliveryError
from alerts.delivery.outbox import Claimed, Policy
from kernel.metrics import DURATION_BUCKETS

log = logging.getLogger("jagajalan.alerts.delivery")


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "jagajalan_alert_delivery_attempts",
            "Sends of alert notifications, by channel and outcome (sent, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "jagajalan_alert_delivery_seconds",
            "Time of one send of an alert notification, by channel",
            ["channel"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.notifications = Gauge(
            "jagajalan_alert_outbox_notifications",
            "Notifications in the outbox, by state (pending, sent, failed)",
            ["state"],
            registry=registry,
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Sender:
    """Delivers due notifications through *channels* (by channel name)."""

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        worker: str,
        policy: Policy | None = None,
        metrics: DeliveryMetrics | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        batch: int = 20,
    ) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.worker = worker
        self.policy = policy or Policy()
        self.metrics = metrics
        self.clock = clock
        self.batch = batch

    def run_once(self) -> int:
        """One pass: claim what is due, send it, record it. Returns how many it claimed."""
        claimed = outbox.claim(self.engine, self.worker, self.clock(), self.policy, self.batch)
        for item in claimed:
            self._deliver(item)
        if self.metrics is not None:
            for state, n in outbox.counts(self.engine).items():
                self.metrics.notifications.labels(state).set(n)
        return len(claimed)

    def _deliver(self, item: Claimed) -> None:
        if not outbox.begin(self.engine, item, self.worker, self.clock(), self.policy):
            log.warning("alert %s: claim taken over by another sender; not sent", item.key)
            return
        channel = self.channels.get(item.channel)
        started = time.monotonic()
        error: str | None = None
        if channel is None:
            error = f"no {item.channel} channel is configured"
        else:
            try:
                channel.send(item)
            except DeliveryError as failure:
                error = str(failure)
            except Exception as failure:  # a channel's bug must not stop the others
                error = f"{item.channel}: {type(failure).__name__}"
                log.exception("alert %s: the %s channel failed", item.key, item.channel)
        state = outbox.record(self.engine, item, self.worker, self.clock(), self.policy, error)
        if self.metrics is not None:
            self.metrics.attempts.labels(item.channel, "sent" if error is None else "failed").inc()
            self.metrics.seconds.labels(item.channel).observe(time.monotonic() - started)
        if error is None:
            log.info("alert %s sent by %s (attempt %d)", item.key, item.channel, item.attempt)
        else:
            log.warning(
                "alert %s not sent by %s (attempt %d, now %s): %s",
                item.key,
                item.channel,
                item.attempt,
                state,
                error,
            )

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Passes until *stop* is set; a full batch is followed at once by the next pass."""
        while not stop.is_set():
            try:
                claimed_full = self.run_once() >= self.batch
            except Exception:  # the database away for a moment: try again next poll
                log.exception("alert delivery pass failed")
                claimed_full = False
            if not claimed_full:
                stop.wait(poll_s)
