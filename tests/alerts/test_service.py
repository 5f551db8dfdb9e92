"""`jagajalan alerts run` against a real Mosquitto and a real registry database (SQLite): two
instances, one acts; a flood step raises one alert and one notification; `alerts ack` stops
its repeats; the acting instance SIGKILLed, the other takes over within the lease and the
next step is told once. A gateway's Last Will raises its offline alert with no more data:
published by hand in the first test, and from a real gateway process SIGKILLed in the last
(its Last Will sent by Mosquitto itself), which resolves when the gateway is back.

Delivery: the service's outbox to a signed webhook on loopback (testkit/receivers.py: it
verifies the signature and counts each idempotency key once); every step of the alert
reaches it exactly once, also across the takeover."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jagajalan.cli import main
from registry import db
from registry.models import AlertRow
from telemetry import topics
from telemetry.codec import encode_batch
from telemetry.models import Batch, Reading
from testkit import REPO, children
from testkit.gateway import current_status, emit_device, write_config
from testkit.ingest import Publisher, status_bytes, wait_for
from testkit.procs import start_gateway
from testkit.receivers import WebhookReceiver
from testkit.services import Mosquitto, mosquitto

pytestmark = pytest.mark.services

RULES = """
[[routes]]
id = "default"
reminder_s = 3600
escalation = [{ after_s = 0, contacts = ["piket-pupr"] }]

[[rules]]
id = "genangan"
kind = "ladder"
measurement = "water_level"
field = "level"
site_flood = true
hysteresis = 5.0

[[rules]]
id = "gateway-offline"
kind = "state"
measurement = "gateway_status"
field = "state"
bad = ["offline"]
after_s = 1
severity = "critical"
"""


def water(gateway: str, seq: int, cm: float) -> bytes:
    reading = Reading(
        sensor="wl1",
        measurement="water_level",
        time=int(time.time() * 1000),
        fields={"level": cm, "distance": 100.0 - cm},
    )
    return encode_batch(Batch(gateway=gateway, seq=seq, sent=reading.time, readings=[reading]))


def start(
    broker: Mosquitto, reg: Path, rules: Path, log: Path, name: str, hook: WebhookReceiver
) -> subprocess.Popen:
    secret = log.with_suffix(".secret")
    secret.write_bytes(hook.secret)
    options = {
        "--broker-url": broker.url,
        "--registry-db": str(reg),
        "--rules-file": str(rules),
        "--every": "0.3",
        "--lease-ttl": "3",
        "--client-id": name,
        "--webhook-urls": hook.url,
        "--webhook-secret-file": str(secret),
        "--poll-s": "0.1",
    }
    argv = [sys.executable, "-m", "jagajalan.cli", "alerts", "run"]
    argv += [part for pair in options.items() for part in pair]
    out = log.open("ab")
    return children.start(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL)


def notifications(*logs: Path) -> list[str]:
    return [
        line
        for log in logs
        if log.exists()
        for line in log.read_text().splitlines()
        if "event=alerts_notification" in line
    ]


def rows(reg: Path) -> list[AlertRow]:
    engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.raised_at)))
    finally:
        engine.dispose()


def test_two_instances_one_acts_ack_and_takeover(tmp_path: Path) -> None:
    """A broker of its own: the session's shared broker holds other tests' retained statuses
    (offline gateways), which an alerts service rightly turns into alerts."""
    with mosquitto(tmp_path / "mosquitto") as broker:
        run_two_instances(broker, tmp_path)


def run_two_instances(broker: Mosquitto, tmp_path: Path) -> None:
    reg = tmp_path / "registry.sqlite3"
    assert main(["registry", "init", "--registry-db", str(reg)]) == 0
    example = str(REPO / "examples" / "registry.toml")
    assert main(["registry", "import", example, "--registry-db", str(reg)]) == 0
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES, encoding="utf-8")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    hook = WebhookReceiver(b"alerts-test-webhook-key").start()
    procs = [start(broker, reg, rules, logs[0], "alerts.a", hook)]
    wait_for(lambda: "event=alerts_acting" in logs[0].read_text(), 30, "instance a acting")
    procs.append(start(broker, reg, rules, logs[1], "alerts.b", hook))
    wait_for(
        lambda: all("event=alerts_connected" in p.read_text() for p in logs), 30, "both subscribed"
    )
    pub = Publisher(broker.port)
    try:
        gw = "srl-tembesi-01"
        pub.send(topics.readings(gw), water(gw, 0, 25.0))  # siaga: one alert, one notification
        wait_for(lambda: len(notifications(*logs)) == 1, 30, "one notification")
        wait_for(lambda: len(hook.accepted) == 1, 30, "the webhook told")
        (body,) = hook.accepted.values()
        assert b'"siaga"' in body and gw.encode() in body, body
        (alert,) = rows(reg)
        assert (alert.rule, alert.gateway, alert.level) == ("genangan", gw, "siaga")
        assert alert.state == "firing"
        assert (
            "kind=raised" in notifications(*logs)[0]
            and "contact=piket-pupr" in notifications(*logs)[0]
        )
        assert notifications(logs[1]) == []  # the standby evaluates but does not write
        assert (
            main(["alerts", "ack", alert.id, "--by", "piket-pupr", "--registry-db", str(reg)]) == 0
        )
        assert main(["alerts", "ack", alert.id, "--by", "x", "--registry-db", str(reg)]) == 1
        # The acting instance dies; the other takes the lease once it expires (3 s).
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        wait_for(lambda: "event=alerts_acting" in logs[1].read_text(), 30, "b takes over")
        pub.send(topics.readings(gw), water(gw, 1, 35.0))  # awas: told once, by b
        wait_for(lambda: len(notifications(*logs)) == 2, 30, "the step up told")
        wait_for(lambda: len(hook.accepted) == 2, 30, "the webhook told the step up")
        assert "kind=changed" in notifications(logs[1])[0]
        (alert,) = rows(reg)
        assert (alert.level, alert.state, alert.acknowledged_by) == ("awas", "firing", None)
        # A Last Will: offline, no time, and nothing more comes from that gateway.
        pub.send(topics.status("srl-pauh-01"), status_bytes("srl-pauh-01", "offline"))
        wait_for(lambda: len(notifications(*logs)) == 3, 30, "offline raised")
        assert "gateway-offline" in notifications(*logs)[2]
        assert "severity=critical" in notifications(*logs)[2]
        wait_for(lambda: len(hook.accepted) == 3, 30, "the webhook told the offline gateway")
        assert hook.rejected == 0 and sum(hook.raw.values()) == 3  # each once, all signed
    finally:
        pub.close()
        hook.stop()
        for proc in procs:
            if proc.poll() is None:
                children.stop(proc)
    text = logs[1].read_text()
    assert "event=alerts_stopped" in text and "Traceback" not in text, text


def test_a_killed_gateway_raises_its_offline_alert_from_the_last_will(tmp_path: Path) -> None:
    """A real gateway (``gateway run`` with the test-only emit driver) on a broker of its own:
    SIGKILLed, it says nothing; Mosquitto publishes its Last Will (retained ``offline``), and
    the alerts service raises ``gateway-offline`` once, critical. Started again, the gateway
    says ``online`` and the alert resolves, told once too."""
    with mosquitto(tmp_path / "mosquitto") as broker:
        reg = tmp_path / "registry.sqlite3"
        assert main(["registry", "init", "--registry-db", str(reg)]) == 0
        rules = tmp_path / "alerts.toml"
        rules.write_text(RULES, encoding="utf-8")
        log, gw_log = tmp_path / "alerts.log", tmp_path / "gateway.log"
        hook = WebhookReceiver(b"alerts-test-webhook-key").start()
        gw = "srl-pauh-01"
        config = write_config(tmp_path, gw, broker.url, [emit_device("c1", 1_000_000, period=0.5)])
        service = start(broker, reg, rules, log, "alerts.a", hook)
        gateway = start_gateway(config, gw_log)
        try:
            wait_for(lambda: "event=alerts_acting" in log.read_text(), 30, "alerts acting")
            wait_for(
                lambda: (current_status(broker.port, gw) or {}).get("state") == "online",
                30,
                "the gateway online",
            )
            gateway.send_signal(signal.SIGKILL)
            gateway.wait(10)
            wait_for(
                lambda: (current_status(broker.port, gw) or {}).get("state") == "offline",
                30,
                "the broker's Last Will",
            )
            wait_for(lambda: len(hook.accepted) == 1, 30, "the offline alert told")
            (body,) = hook.accepted.values()
            assert b'"gateway-offline"' in body and b'"raised"' in body, body
            (alert,) = rows(reg)
            assert (alert.rule, alert.gateway, alert.severity) == (
                "gateway-offline",
                gw,
                "critical",
            )
            gateway = start_gateway(config, gw_log)
            wait_for(lambda: len(hook.accepted) == 2, 30, "the resolution told")
            resolved = [b for b in hook.accepted.values() if b'"resolved"' in b]
            assert len(resolved) == 1 and b'"gateway-offline"' in resolved[0]
            (alert,) = rows(reg)
            assert alert.state == "resolved"
            told = notifications(log)
            assert [("kind=raised" in n, "kind=resolved" in n) for n in told] == [
                (True, False),
                (False, True),
            ], told
            assert hook.rejected == 0 and sum(hook.raw.values()) == 2
        finally:
            hook.stop()
            for proc in (gateway, service):
                if proc.poll() is None:
                    children.stop(proc)
        assert "Traceback" not in log.read_text()
