"""The sender against a webhook receiver that is down for a while: every notification arrives
once after it returns, also when the sender is restarted in between (the schedule is in the
outbox); attempts are visible through outbox.attempts and the Prometheus counters."""

from __future__ import annotations

import datetime as dt
import threading

from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.delivery import outbox
from alerts.delivery.channels import Webhook
from alerts.delivery.compose import Notice, Place, Recipient, messages
from alerts.delivery.outbox import Policy
from alerts.delivery.sender import DeliveryMetrics, Sender
from alerts.rules.engine import Event
from testkit.receivers import WebhookReceiver, wait_for

SECRET = SecretStr("whsec-sender-test-4411")
POLICY = Policy(base_s=0.05, cap_s=0.3, max_attempts=1000, lease_s=5)
PASAR = Place("pasar-sarolangun", "Pasar Sarolangun", "Jalan Lintas Sumatera")


def notices(n: int) -> list[Notice]:
    t0 = dt.datetime(2026, 1, 14, 2, 0, tzinfo=dt.UTC).timestamp()
    return [
        Notice(
            Event(
                "banjir",
                "srl-pasar-01",
                "lvl1",
                "raised",
                "hati_hati",
                "normal",
                True,
                "warning",
                t0 + 60 * i,
                12.0 + i,
            ),
            {"id": "Genangan di jalan", "en": "Water on the road"},
            PASAR,
            "cm",
        )
        for i in range(n)
    ]


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_a_receiver_down_for_a_while_gets_every_notification_once(engine: Engine) -> None:
    receiver = WebhookReceiver(SECRET.get_secret_value().encode())  # down: not started
    recipient = Recipient("webhook", receiver.url)
    for notice in notices(12):
        outbox.enqueue(engine, messages(notice, [recipient], "http://127.0.0.1:8000"), _now())
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    channels = {"webhook": Webhook(SECRET, timeout_s=2)}

    def failed() -> float:
        return sample(
            registry, "jagajalan_alert_delivery_attempts_total", channel="webhook", outcome="failed"
        )

    first = Sender(engine, channels, "alerts-a", POLICY, metrics)
    stop = threading.Event()
    runner = threading.Thread(target=first.run, args=(stop, 0.02))
    runner.start()
    wait_for(lambda: failed() >= 24, 30, "two failed rounds while the receiver is down")
    stop.set()
    runner.join(10)
    assert outbox.counts(engine) == {"pending": 12, "sent": 0, "failed": 0}
    # restarted: a new sender picks up the schedule the first one left in the outbox
    receiver.start()
    try:
        second = Sender(engine, channels, "alerts-b", POLICY, metrics)
        stop = threading.Event()
        runner = threading.Thread(target=second.run, args=(stop, 0.02))
        runner.start()
        wait_for(lambda: outbox.counts(engine)["sent"] == 12, 30, "all 12 sent")
        stop.set()
        runner.join(10)
    finally:
        receiver.stop()
    assert len(receiver.raw) == 12 and set(receiver.raw.values()) == {1}
    assert receiver.rejected == 0
    assert (
        sample(
            registry, "jagajalan_alert_delivery_attempts_total", channel="webhook", outcome="sent"
        )
        == 12
    )
    assert sample(registry, "jagajalan_alert_outbox_notifications", state="sent") == 12
    rows = outbox.attempts(engine, limit=10_000)
    assert {r.worker for r in rows} == {"alerts-a", "alerts-b"}
    assert sum(r.outcome == "sent" for r in rows) == 12
    assert all(r.error and "ConnectError" in r.error for r in rows if r.outcome == "failed")
    assert len(rows) == failed() + 12


def test_a_channel_not_configured_is_a_recorded_failure(engine: Engine) -> None:
    recipient = Recipient("telegram", "-1001234567890")
    outbox.enqueue(engine, messages(notices(1)[0], [recipient], None), _now())
    Sender(engine, {}, "alerts-a", POLICY).run_once()
    (row,) = outbox.attempts(engine)
    assert (row.outcome, row.error) == ("failed", "no telegram channel is configured")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
