"""Issue 12's acceptance bullets about time on the real chain: a real Mosquitto, ``jagajalan
alerts run`` (a process; the registry imported from examples/registry.toml with e-mail-only
contacts), its outbox sending to a signed webhook on loopback (testkit/receivers.py: it checks
the signature and counts each idempotency key) and to a real SMTP server on loopback (aiosmtpd).

- a water level wobbling ±5 cm around the siaga line for 6 scenario hours (every 5 min) is told
  as one step into siaga and one out of it;
- a silent sensor raises one absence alert after T plus at most one evaluation, not before,
  and it resolves when the sensor sends again;
- an unacknowledged critical alert escalates at T; one acknowledged before T does not;
- quiet hours hold a warning's e-mail and let a critical one through.

The clock: the service runs on the wall clock (it has no clock option); the tests accelerate
time by the readings' own timestamps, which the rules go by (the wobble: 6 scenario hours
replayed in 6 s, at 3600x; the absence: the sensor's last reading is stamped 56 s before it is
published, so the rule's minimum T, 60 s, ends 4 s later) and by short escalation times
(``after_s`` 3 s; ``--every`` 0.3 s). Reminders (``reminder_s`` at least 60 s, counted on the
wall clock from the last notification) cannot be made shorter: that acknowledging stops them is
shown on the pure lifecycle (tests/alerts/test_lifecycle.py), the escalation here.

How "nothing more" is known without waiting for nothing to happen: a sentinel gateway's
``offline`` status raises a critical ``gateway-offline`` alert last; the service handles
messages in order and the outbox sends in due order, so once the sentinel is at the receiver,
everything written before it has been sent too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jagajalan.cli import main
from kernel.times import WIB
from registry import db
from registry.models import OutboxMessage
from telemetry import topics
from telemetry.codec import encode_batch
from telemetry.models import Batch, Reading
from testkit import REPO, children
from testkit.ingest import Publisher, status_bytes, wait_for
from testkit.receivers import Mailbox, WebhookReceiver
from testkit.services import Mosquitto, mosquitto
from tests.alerts.test_ground_truth import expected
from tests.alerts.test_service import rows

pytestmark = pytest.mark.services

SENTINEL = "srl-sentinel-99"
EVERY = 0.3
TEMBESI, PASAR = "srl-tembesi-01", "srl-pasar-01"  # flood ladders 10 / 20 / 30 cm
CONTACTS = """
[[contacts]]
id = "meja-piket"
name = "Meja piket uji"
role = "operator"
language = "id"
email = "piket@pupr.example.org"

[[contacts]]
id = "kepala-bidang"
name = "Kepala bidang uji"
role = "operator"
language = "id"
email = "kabid@pupr.example.org"
"""
OFFLINE = """
[[rules]]
id = "gateway-offline"
kind = "state"
measurement = "gateway_status"
field = "state"
bad = ["offline"]
after_s = 0
severity = "critical"
"""
GENANGAN = """
[[rules]]
id = "genangan"
kind = "ladder"
measurement = "water_level"
field = "level"
site_flood = true
hysteresis = 5.0
"""


def route(*steps: tuple[float, str]) -> str:
    escalation = ", ".join(f'{{ after_s = {a}, contacts = ["{c}"] }}' for a, c in steps)
    return f'[[routes]]\nid = "default"\nreminder_s = 86400\nescalation = [{escalation}]\n'


@dataclass
class Chain:
    broker: Mosquitto
    reg: Path
    log: Path
    hook: WebhookReceiver
    box: Mailbox
    pub: Publisher
    seq: dict[str, int]

    def water(self, gateway: str, cm: float, time_ms: int) -> None:
        self.seq[gateway] = self.seq.get(gateway, -1) + 1
        one = Reading(
            sensor="wl1",
            measurement="water_level",
            time=time_ms,
            fields={"level": cm, "distance": 250.0 - cm},
        )
        batch = Batch(gateway=gateway, seq=self.seq[gateway], sent=time_ms, readings=[one])
        self.pub.send(topics.readings(gateway), encode_batch(batch))

    def told(self) -> list[dict]:
        """The webhook's events (each step once), in the order of their times."""
        events = [json.loads(b)["event"] for b in list(self.hook.accepted.values())]
        return sorted(events, key=lambda e: e["time"])

    def sentinel(self) -> None:
        """The sentinel's offline alert, then wait until the webhook has it."""
        self.pub.send(topics.status(SENTINEL), status_bytes(SENTINEL, "offline"))
        wait_for(
            lambda: any(e["gateway"] == SENTINEL for e in self.told()),
            30,
            "the sentinel at the webhook; log:\n" + self.log.read_text()[-3000:],
        )

    def outbox(self) -> list[OutboxMessage]:
        engine = db.engine_for(f"sqlite+pysqlite:///{self.reg}")
        try:
            with Session(engine) as session:
                return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        finally:
            engine.dispose()


@contextlib.contextmanager
def chain(tmp_path: Path, rules: str) -> Iterator[Chain]:
    """A broker, a registry, a webhook and a mailbox of the test's own, and ``alerts run``."""
    with mosquitto(tmp_path / "mosquitto") as broker:
        doc = (REPO / "examples" / "registry.toml").read_text(encoding="utf-8")
        registry_toml = tmp_path / "registry.toml"
        registry_toml.write_text(doc.split("[[contacts]]")[0] + CONTACTS, encoding="utf-8")
        reg = tmp_path / "registry.sqlite3"
        assert main(["registry", "init", "--registry-db", str(reg)]) == 0
        assert main(["registry", "import", str(registry_toml), "--registry-db", str(reg)]) == 0
        rules_file = tmp_path / "alerts.toml"
        rules_file.write_text(rules, encoding="utf-8")
        log = tmp_path / "alerts.log"
        hook = WebhookReceiver(b"chain-clock-webhook-key").start()
        box = Mailbox().start()
        secret = tmp_path / "webhook.secret"
        secret.write_bytes(hook.secret)
        options = {
            "--broker-url": broker.url,
            "--registry-db": str(reg),
            "--rules-file": str(rules_file),
            "--every": str(EVERY),
            "--lease-ttl": "3",
            "--client-id": "alerts.clock",
            "--webhook-urls": hook.url,
            "--webhook-secret-file": str(secret),
            "--smtp-host": "127.0.0.1",
            "--smtp-port": str(box.port),
            "--smtp-security": "none",
            "--smtp-from": "alerts@pu.sarolangun.go.id",
            "--poll-s": "0.1",
        }
        argv = [sys.executable, "-m", "jagajalan.cli", "alerts", "run"]
        argv += [part for pair in options.items() for part in pair]
        out = log.open("ab")
        service = children.start(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        pub = Publisher(broker.port)
        try:
            wait_for(lambda: "event=alerts_connected" in log.read_text(), 30, "subscribed")
            wait_for(lambda: "event=alerts_acting" in log.read_text(), 30, "acting")
            yield Chain(broker, reg, log, hook, box, pub, {})
        finally:
            pub.close()
            hook.stop()
            box.stop()
            if service.poll() is None:
                children.stop(service)
        text = log.read_text()
        assert "Traceback" not in text, text


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_level_wobbling_5_cm_around_siaga_for_6_scenario_hours_is_told_once(
    tmp_path: Path,
) -> None:
    """From waspada (15 cm), every 5 scenario minutes for 6 hours 20 cm ± 5 cm (the siaga
    line; hysteresis 5 cm: siaga clears below 15 cm), the extremes included, then 0 cm. At
    3600x: the 6 hours take 6 s, about 20 evaluations of the service interleaved."""
    rng = random.Random(12)
    wobble = [rng.uniform(-5.0, 5.0) for _ in range(64)] + [5.0, -5.0, 4.99, -4.99, 0.0] * 2
    start_ms = round(dt.datetime(2026, 1, 12, 14, 0, tzinfo=WIB).timestamp() * 1000)
    series = [(start_ms, 15.0)]
    series += [(start_ms + (i + 1) * 300_000, 20.0 + w) for i, w in enumerate(wobble[:72])]
    series.append((start_ms + 73 * 300_000, 0.0))
    want = expected(series, {"waspada": 10.0, "siaga": 20.0, "awas": 30.0}, 5.0)
    assert [k for k, _, _ in want] == ["raised", "changed", "resolved"], want  # the story
    # The wobble crosses the line itself many times: a rule without hysteresis would flap.
    crossings = sum((a >= 20.0) != (b >= 20.0) for (_, a), (_, b) in itertools.pairwise(series))
    assert crossings >= 20
    with chain(tmp_path, route((0, "meja-piket")) + GENANGAN + OFFLINE) as c:
        wall0 = time.monotonic()
        for t_ms, cm in series:
            pace = wall0 + (t_ms - start_ms) / 1000 / 3600
            while time.monotonic() < pace:  # the scenario clock at 3600x
                time.sleep(min(0.01, pace - time.monotonic()))
            c.water(TEMBESI, cm, t_ms)
        c.sentinel()
        told = [e for e in c.told() if e["gateway"] == TEMBESI]
    got = [(e["kind"], e["level"], round(_epoch(e["time"]) * 1000)) for e in told]
    assert got == want, (got, want)
    into = [e for e in told if e["level"] == "siaga"]
    out = [e for e in told if e["previous"] == "siaga"]
    assert len(into) == 1 and len(out) == 1, told
    assert c.hook.rejected == 0 and set(c.hook.raw.values()) == {1}


ABSENCE = """
[[rules]]
id = "sensor-diam"
kind = "absence"
measurement = "water_level"
after_s = 60
severity = "warning"
"""


def test_a_silent_sensor_raises_one_absence_alert_after_t_and_resolves_when_it_sends(
    tmp_path: Path,
) -> None:
    """T is 60 s (the rule's minimum); the sensor's last reading is stamped 56 s before it is
    published, so T ends 4 s after. The alert is raised at the first evaluation at or after
    T (within ``--every`` plus the evaluation's own time, 0.5 s allowed), not before: the
    webhook gets it no earlier than T. A reading now resolves it."""
    with chain(tmp_path, route((0, "meja-piket")) + ABSENCE + OFFLINE) as c:
        last_ms = int(time.time() * 1000) - 56_000
        c.water(TEMBESI, 3.0, last_ms)
        raised = wait_for(
            lambda: [e for e in c.told() if e["rule"] == "sensor-diam"],
            20,
            "the absence alert",
        )
        (event,) = raised
        assert (event["kind"], event["gateway"], event["sensor"]) == ("raised", TEMBESI, "wl1")
        t_raise = _epoch(event["time"])
        deadline = last_ms / 1000 + 60
        assert deadline <= t_raise <= deadline + EVERY + 0.5, t_raise - last_ms / 1000
        (key,) = [k for k, b in c.hook.accepted.items() if b"sensor-diam" in b]
        assert c.hook.arrived[key] >= deadline  # not before T at the receiver either
        c.water(TEMBESI, 3.0, int(time.time() * 1000))  # the sensor is back
        wait_for(lambda: len([e for e in c.told() if e["rule"] == "sensor-diam"]) == 2, 20, "back")
        c.sentinel()
        told = [(e["kind"], e["level"]) for e in c.told() if e["rule"] == "sensor-diam"]
        # The duty desk's e-mail too: raised, resolved ("selesai"), the sentinel.
        wait_for(lambda: len(c.box.messages) == 3, 20, "three e-mails")
    assert told == [("raised", "raised"), ("resolved", "normal")]
    assert c.hook.rejected == 0 and set(c.hook.raw.values()) == {1}


def test_a_critical_alert_escalates_at_t_unless_acknowledged_before(tmp_path: Path) -> None:
    """Two gateways reach awas (critical) at the same instant; the route escalates to the
    head of division after 3 s. One alert is acknowledged (``alerts ack``) right after the
    webhook has it: it does not escalate; the other escalates at T: written at the first
    evaluation at or after T, at the SMTP server no earlier than T and within T + 5 s."""
    T = 3.0
    rules = route((0, "meja-piket"), (T, "kepala-bidang")) + GENANGAN + OFFLINE
    with chain(tmp_path, rules) as c:
        t0_ms = int(time.time() * 1000)
        for gw in (TEMBESI, PASAR):
            c.water(gw, 35.0, t0_ms)
        wait_for(lambda: len(c.told()) == 2, 20, "both raised at the webhook")
        t0 = t0_ms / 1000
        (acked,) = [a for a in rows(c.reg) if a.gateway == TEMBESI]
        assert acked.severity == "critical"
        ack = ["alerts", "ack", acked.id, "--by", "meja-piket", "--registry-db", str(c.reg)]
        assert main(ack) == 0
        acked_at = time.time()
        # The acknowledgement is in time by one evaluation: the escalation is due after it.
        assert acked_at + EVERY < t0 + T, acked_at - t0
        escalated: dict[str, float] = {}

        def kabid() -> bool:
            for m in c.box.messages:
                if "kabid@" in m["To"]:
                    escalated.setdefault(m["Message-ID"], time.time())
            return bool(escalated)

        wait_for(kabid, 20, "the escalation e-mail", step=0.02)
        c.sentinel()  # (its own escalation comes 3 s later, after the test)
        out = c.outbox()
    arrived = min(escalated.values())  # the first, before the sentinel was raised
    assert t0 + T <= arrived <= t0 + T + 5.0, arrived - t0
    esc = [m for m in out if m.address == "kabid@pupr.example.org" and SENTINEL not in m.key]
    assert len(esc) == 1 and PASAR in esc[0].key, [m.key for m in esc]
    written = esc[0].created_at.replace(tzinfo=dt.UTC).timestamp()
    assert t0 + T <= written <= t0 + T + EVERY + 0.5, written - t0
    assert not [m for m in out if TEMBESI in m.key and "kepala-bidang" in m.key]
    (after,) = [a for a in rows(c.reg) if a.gateway == TEMBESI]
    assert (after.state, after.acknowledged_by) == ("acknowledged", "meja-piket")


def test_quiet_hours_hold_a_warning_and_let_a_critical_through(tmp_path: Path) -> None:
    """The duty desk's quiet hours cover the present hour (WIB); a waspada (warning) step is
    raised first, the sentinel's offline (critical) after: the critical's e-mail arrives, the
    warning's waits in the outbox until the quiet hours end. The webhook (a system, not a
    person) gets both at once."""
    now = dt.datetime.now(WIB)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    quiet = (
        f'[[quiet_hours]]\ncontact = "meja-piket"\nstart = "{start:%H:%M}"\nend = "{end:%H:%M}"\n'
    )
    with chain(tmp_path, route((0, "meja-piket")) + GENANGAN + OFFLINE + quiet) as c:
        c.water(TEMBESI, 12.0, int(time.time() * 1000))  # waspada: a warning
        wait_for(lambda: len(c.told()) == 1, 20, "the warning at the webhook")
        c.sentinel()
        wait_for(lambda: c.box.messages, 20, "the critical e-mail")
        out = c.outbox()
    (mail,) = c.box.messages
    assert SENTINEL in mail["Subject"] + str(mail.get_payload()), mail
    held = [m for m in out if m.channel == "email" and TEMBESI in m.key]
    assert len(held) == 1 and held[0].state == "pending", [(m.key, m.state) for m in out]
    due = held[0].due_at.replace(tzinfo=dt.UTC)
    assert due.astimezone(WIB).strftime("%H:%M") == f"{end:%H:%M}"
    assert due > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)
