"""The real chain of issue 12's acceptance tests (tests/alerts/test_chain_clock.py): a
broker (Mosquitto), a registry (examples/registry.toml with e-mail-only contacts), a signed
webhook and an SMTP server (aiosmtpd) on loopback, each of the test's own, and ``jagajalan
alerts run`` as a process, evaluating every 0.3 s. A test starts once the service has told
the webhook of a probe reading (:meth:`Chain.subscribed`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jagajalan.cli import main
from registry import db
from registry.models import OutboxMessage
from telemetry import topics
from telemetry.codec import encode_batch
from telemetry.models import Batch, Reading
from testkit import REPO, children
from testkit.ingest import Publisher, status_bytes, wait_for
from testkit.receivers import Mailbox, WebhookReceiver
from testkit.services import Mosquitto, mosquitto

SENTINEL = "srl-sentinel-99"
EVERY = 0.3
TEMBESI, PASAR = "srl-tembesi-01", "srl-pasar-01"  # flood ladders 10 / 20 / 30 cm
#: A gateway whose hot road surface tells the test that the whole chain hears it (the
#: log's ``alerts_connected`` comes after the SUBACK, this after a rule fired). Its route's
#: contact is in no registry: only the webhook hears it.
PROBE = "srl-cermin-01"
PROBE_RULES = f"""
[[routes]]
id = "probe"
escalation = [{{ after_s = 0, contacts = ["bukan-kontak"] }}]

[[rules]]
id = "probe"
kind = "threshold"
measurement = "road_surface"
field = "surface_temperature"
above = 60
clear = 55
route = "probe"
scope = {{ gateways = ["{PROBE}"] }}
"""
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
    argv: list[str]
    procs: list[subprocess.Popen]

    def start(self) -> subprocess.Popen:
        """Start an ``alerts run`` (again), logging to :attr:`log`."""
        out = self.log.open("ab")
        proc = children.start(self.argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def acting(self, times: int = 1) -> None:
        """Wait until *times* instances in all have been acting."""
        wait_for(
            lambda: self.log.read_text().count("event=alerts_acting") >= times,
            30,
            f"acting x{times}; log:\n" + self.log.read_text()[-3000:],
        )

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
        """The webhook's events (each step once) but the probe's, in the order of their
        times."""
        events = [json.loads(b)["event"] for b in list(self.hook.accepted.values())]
        return sorted((e for e in events if e["rule"] != "probe"), key=lambda e: e["time"])

    def subscribed(self) -> None:
        """Publish the probe's reading (again, each second) until the webhook has it."""
        sent = [0.0]

        def probed() -> bool:
            if any(b'"probe"' in b for b in list(self.hook.accepted.values())):
                return True
            if time.monotonic() - sent[0] > 1.0:
                sent[0] = time.monotonic()
                one = Reading(
                    sensor="rs1",
                    measurement="road_surface",
                    time=int(time.time() * 1000),
                    fields={"surface_temperature": 70.0},
                )
                self.seq[PROBE] = self.seq.get(PROBE, -1) + 1
                batch = Batch(gateway=PROBE, seq=self.seq[PROBE], sent=one.time, readings=[one])
                self.pub.send(topics.readings(PROBE), encode_batch(batch))
            return False

        wait_for(probed, 30, "the probe at the webhook; log:\n" + self.log.read_text()[-3000:])

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
def chain(
    tmp_path: Path,
    rules: str,
    before: Callable[[Path], None] | None = None,
    extra: dict[str, str] | None = None,
) -> Iterator[Chain]:
    """A broker, a registry, a webhook and a mailbox of the test's own, and ``alerts run``
    (*before* gets the registry's path before the service starts; *extra*: more options)."""
    with mosquitto(tmp_path / "mosquitto") as broker:
        doc = (REPO / "examples" / "registry.toml").read_text(encoding="utf-8")
        registry_toml = tmp_path / "registry.toml"
        registry_toml.write_text(doc.split("[[contacts]]")[0] + CONTACTS, encoding="utf-8")
        reg = tmp_path / "registry.sqlite3"
        assert main(["registry", "init", "--registry-db", str(reg)]) == 0
        assert main(["registry", "import", str(registry_toml), "--registry-db", str(reg)]) == 0
        if before is not None:
            before(reg)
        rules_file = tmp_path / "alerts.toml"
        rules_file.write_text(rules + PROBE_RULES, encoding="utf-8")
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
            **(extra or {}),
        }
        argv = [sys.executable, "-m", "jagajalan.cli", "alerts", "run"]
        argv += [part for pair in options.items() for part in pair]
        pub = Publisher(broker.port)
        c = Chain(broker, reg, log, hook, box, pub, {}, argv, [])
        try:
            c.start()
            wait_for(lambda: "event=alerts_connected" in log.read_text(), 30, "subscribed")
            c.acting()
            c.subscribed()
            yield c
        finally:
            pub.close()
            hook.stop()
            box.stop()
            for proc in c.procs:
                if proc.poll() is None:
                    children.stop(proc)
        text = log.read_text()
        assert "Traceback" not in text, text


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
