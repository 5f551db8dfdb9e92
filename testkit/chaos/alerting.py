"""Alerts in the chaos rig: the real ``jagajalan alerts run`` beside ingest, on the rig's
broker (a user of its own), a registry made from examples/registry.toml, and a signed webhook
on loopback (testkit/receivers.py: it checks the signature and counts each idempotency key).

The rule set is one the scenario's ground truth triggers: ``gateway-offline`` (state
``offline`` of ``gateway_status`` for ``after_s``: the broker's Last Will of a gateway cut
off or killed, or the offline status of a gateway that stops), and ``hitungan-uji``, a
threshold on the rig's ``e1`` device (its reading *i* carries ``count = i``: raised once
reading :data:`COUNT_ABOVE` is taken, never cleared, whatever order the backlog arrives in,
since the engine ignores a point older than the last it evaluated). The route's contact is
in no registry, so only the webhook hears the alerts (every step of every alert).

The scenario says what it expects (:meth:`AlertsWatch.expect`, from the faults it injected);
:meth:`AlertsWatch.figures` compares that with what the webhook received once a sentinel
gateway's offline alert, raised last, has arrived (the service handles messages in order and
the outbox sends in due order: everything before it has been sent by then).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from telemetry.codec import decode_status
from testkit import REPO, children
from testkit.gateway import wait_until
from testkit.ingest import status_bytes
from testkit.procs import stop
from testkit.receivers import WebhookReceiver
from testkit.services import Influx, Mosquitto

ALERTS_USER = "jagajalan_alerts"
OFFLINE = "gateway-offline"
COUNT_RULE = "hitungan-uji"
COUNT_ABOVE = 25  # e1's 26th reading, 5 s after the gateway's first start
SENTINEL = "chaos-sentinel-99"
RULES = """
[[routes]]
id = "default"
reminder_s = 86400
escalation = [{{ after_s = 0, contacts = ["bukan-kontak"] }}]

[[rules]]
id = "gateway-offline"
kind = "state"
measurement = "gateway_status"
field = "state"
bad = ["offline"]
after_s = {after_s}
severity = "critical"

[[rules]]
id = "hitungan-uji"
kind = "threshold"
measurement = "traffic"
field = "count"
above = {above}
clear = -1
scope = {{ sensors = ["e1"] }}
"""


@dataclass
class AlertsWatch:
    argv: list[str]
    log: Path
    hook: WebhookReceiver
    broker: Mosquitto
    password: str
    after_s: float
    proc: subprocess.Popen | None = None
    starts: int = 0
    expected: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: Alerts that may or may not come: an offline spell too close to ``after_s`` to call.
    optional: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = children.start(
            self.argv, cwd=REPO, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )
        self.starts += 1
        proc, n = self.proc, self.starts

        def up() -> bool:
            assert proc.poll() is None, self.log.read_text()[-3000:]
            text = self.log.read_text(errors="replace")
            return (
                text.count("event=alerts_connected") >= n and text.count("event=alerts_acting") >= n
            )

        assert wait_until(up, 60, step=0.1), self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL the service (whatever it was sending, its next start sends again)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def expect(self, gateway: str, kind: str, n: int = 1, rule: str = OFFLINE) -> None:
        self.expected[(rule, gateway, kind)] += n

    def expect_count(self, gateway: str, emit_taken: list[int]) -> None:
        """``hitungan-uji`` raised once if e1 took reading :data:`COUNT_ABOVE` (its log)."""
        if any(i >= COUNT_ABOVE for i in emit_taken):
            self.expect(gateway, "raised", rule=COUNT_RULE)

    @contextlib.contextmanager
    def statuses(self, gateway: str) -> Iterator[list[tuple[float, str, float]]]:
        """The gateway's statuses as the broker publishes them to the alerts service, while
        the block runs: (arrival, state, the time the rules take) each, in seconds."""
        seen: list[tuple[float, str, float]] = []

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            now = time.time()
            status = decode_status(msg.payload)
            at = now if status.time is None else status.time / 1000
            seen.append((now, status.state, at))

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.username_pw_set(ALERTS_USER, self.password)
        client.on_message = on_message
        client.connect("127.0.0.1", self.broker.port)
        client.subscribe(f"jagajalan/v1/{gateway}/status", 1)
        client.loop_start()
        try:
            assert wait_until(lambda: bool(seen), 30, step=0.1), "no retained status"
            yield seen
        finally:
            client.disconnect()
            client.loop_stop()

    def expect_spells(
        self, gateway: str, seen: list[tuple[float, str, float]], margin: float = 2.0
    ) -> int:
        """Expect what the offline spells in *seen* (from :meth:`statuses`) raise: a spell
        from an offline status to the next online one's arrival at least ``after_s`` long is
        raised and resolved, a shorter one nothing; one within *margin* of ``after_s`` (the
        service ticks every 0.5 s) may go either way. A spell still open at the end is left
        to the caller. The number of closed spells."""
        spells, since = 0, None
        for arrived, state, at in seen:
            if state == "offline" and since is None:
                since = at
            elif state == "online" and since is not None:
                spells, length, since = spells + 1, arrived - since, None
                if abs(length - self.after_s) <= margin:
                    self.optional[(OFFLINE, gateway, "raised")] += 1
                    self.optional[(OFFLINE, gateway, "resolved")] += 1
                elif length > self.after_s:
                    self.expect(gateway, "raised")
                    self.expect(gateway, "resolved")
        return spells

    def events(self) -> list[dict]:
        with self.hook.lock:
            bodies = list(self.hook.accepted.values())
        return [json.loads(b)["event"] for b in bodies]

    def delivered(self) -> Counter[tuple[str, str, str]]:
        return Counter(
            (e["rule"], e["gateway"], e["kind"]) for e in self.events() if e["gateway"] != SENTINEL
        )

    def sentinel(self, timeout: float = 120) -> bool:
        """A sentinel gateway goes offline; True once its alert (raised last) has arrived."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.username_pw_set(ALERTS_USER, self.password)
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        try:
            offline = status_bytes(SENTINEL, "offline")
            client.publish(f"jagajalan/v1/{SENTINEL}/status", offline, 1).wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()
        return wait_until(
            lambda: any(e["gateway"] == SENTINEL for e in self.events()), timeout, step=0.2
        )

    def figures(self, timeout: float = 180) -> dict[str, float]:
        """Expected vs delivered, after every expected alert arrived (or *timeout*) and the
        sentinel's after them."""
        wait_until(lambda: not self.expected - self.delivered(), timeout, step=0.5)
        sentinel = self.sentinel()
        got = self.delivered()
        events = [e for e in self.events() if e["gateway"] != SENTINEL]
        moments = {(e["rule"], e["gateway"], e["kind"], e["level"], e["time"]) for e in events}
        with self.hook.lock:
            resent = sum(self.hook.raw.values()) - len(self.hook.accepted)
        return {
            "alerts_expected": sum(self.expected.values()),
            "alerts_delivered": sum(got.values()),
            "alerts_missing": sum((self.expected - got).values()),
            "alerts_unexpected": sum((got - self.expected - self.optional).values()),
            "alerts_either_way": sum(self.optional.values()),
            "alerts_duplicates": len(events) - len(moments),  # one event under two keys
            "alerts_resent_same_key": resent,  # at least once: harmless, counted once
            "alerts_sentinel_arrived": int(sentinel),
            "alerts_service_starts": self.starts,
        }


@contextlib.contextmanager
def alerts_watch(
    work: Path, broker: Mosquitto, password: str, influx: Influx, db: str, after_s: float
) -> Iterator[AlertsWatch]:
    """The alerts service on the rig's broker and a webhook receiver; stopped after."""
    from jagajalan.demo_parts import prepare_registry

    work.mkdir(parents=True, exist_ok=True)
    registry = prepare_registry(work).path
    rules = work / "alerts.toml"
    rules.write_text(RULES.format(after_s=after_s, above=COUNT_ABOVE), encoding="utf-8")
    hook = WebhookReceiver(b"chaos-webhook-key").start()
    key = work / "webhook.secret"
    key.write_bytes(hook.secret)
    key.chmod(0o600)
    pw = work / "alerts.pw"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    options = {
        "--broker-url": broker.url,
        "--mqtt-username": ALERTS_USER,
        "--mqtt-password-file": str(pw),
        "--client-id": "alerts.chaos",
        "--registry-db": str(registry),
        "--rules-file": str(rules),
        "--influx-url": influx.url,
        "--influx-db": db,
        "--every": "0.5",
        "--lease-ttl": "3",
        "--lease-s": "5",
        "--poll-s": "0.1",
        "--retry-base-s": "0.5",
        "--retry-cap-s": "2",
        "--webhook-urls": hook.url,
        "--webhook-secret-file": str(key),
    }
    argv = [sys.executable, "-m", "jagajalan.cli", "--log-level", "INFO", "alerts", "run"]
    argv += [part for pair in options.items() for part in pair]
    watch = AlertsWatch(argv, work.parent / "logs" / "alerts.log", hook, broker, password, after_s)
    try:
        watch.start()
        yield watch
    finally:
        if watch.proc is not None:
            stop(watch.proc)
        hook.stop()
