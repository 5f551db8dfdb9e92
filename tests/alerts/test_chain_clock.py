"""Issue 12's acceptance bullets about time on the real chain: a real Mosquitto, ``jagajalan
alerts run`` (a process; the registry imported from examples/registry.toml with e-mail-only
contacts), its outbox sending to a signed webhook on loopback (testkit/receivers.py: it checks
the signature and counts each idempotency key) and to a real SMTP server on loopback
(aiosmtpd); tests/alerts/chain.py sets it up.

- a water level wobbling ±5 cm around the siaga line for 6 scenario hours (every 5 min) is told
  as one step into siaga and one out of it;
- a silent sensor raises one absence alert after T plus at most one evaluation, not before,
  and it resolves when the sensor sends again;
- an unacknowledged critical alert escalates at T; one acknowledged before T does not;
- an acknowledged alert is not reminded, an unacknowledged one is, at its time;
- quiet hours hold a warning's e-mail and let a critical one through;
- a webhook down for a while gets every step once when it is back.

The clock: the service runs on the wall clock (it has no clock option); the tests accelerate
time by the readings' own timestamps, which the rules go by (the wobble: 6 scenario hours
replayed in 6 s, at 3600x; the absence: the sensor's last reading is stamped 56 s before it is
published, so the rule's minimum T, 60 s, ends 4 s later), by short escalation times
(``after_s`` 3 s; ``--every`` 0.3 s), and for reminders (``reminder_s`` at least 60 s, counted
on the wall clock from the last notification) by alert rows as a previous holder of the lease
left them, told last 46 s before the service starts.

How "nothing more" is known without waiting for nothing to happen: a sentinel gateway's
``offline`` status raises a critical ``gateway-offline`` alert last; the service handles
messages in order and the outbox sends in due order, so once the sentinel is at the receiver,
everything written before it has been sent too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from jagajalan.cli import main
from kernel.times import WIB
from registry import db
from testkit.alerts import alert_row
from testkit.ingest import wait_for
from tests.alerts.chain import (
    EVERY,
    GENANGAN,
    OFFLINE,
    PASAR,
    SENTINEL,
    TEMBESI,
    chain,
    epoch,
    route,
)
from tests.alerts.test_ground_truth import expected
from tests.alerts.test_service import rows

pytestmark = pytest.mark.services


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
                time.sleep(max(0.0, min(0.01, pace - time.monotonic())))  # pace may pass meanwhile
            c.water(TEMBESI, cm, t_ms)
        c.sentinel()
        told = [e for e in c.told() if e["gateway"] == TEMBESI]
    got = [(e["kind"], e["level"], round(epoch(e["time"]) * 1000)) for e in told]
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
        t_raise = epoch(event["time"])
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
    assert due > now + dt.timedelta(minutes=58)  # the end's minute, not the test's present


def test_an_alert_acknowledged_just_before_its_reminder_is_not_reminded(tmp_path: Path) -> None:
    """Two firing siaga alerts, nobody acknowledged, told last 46 s ago (rows as a previous
    holder left them: reminders count on the wall clock from the last notification, at
    least 60 s, so the test starts from there); the service restores them and reminds at
    60 s. One is acknowledged (``alerts ack``) 0.8 s, under three evaluations, before its
    reminder is due: it is not reminded; the other is, once, at the first evaluation at or
    after its time."""
    rules = route((0, "meja-piket")).replace("86400", "60") + GENANGAN + OFFLINE
    ids: dict[str, str] = {}
    at: dict[str, float] = {}

    def seed(reg: Path) -> None:
        """Right before the service starts: told last 46 s ago, the reminder due in 14 s."""
        at["due"] = time.time() - 46 + 60
        last = dt.datetime.fromtimestamp(at["due"] - 60, dt.UTC)
        raised = last - dt.timedelta(minutes=10)
        engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
        try:
            with Session(engine) as session, session.begin():
                for gw in (TEMBESI, PASAR):
                    ids[gw] = f"genangan/{gw}/wl1@{round(raised.timestamp() * 1000)}"
                    row = alert_row(ids[gw], raised, gateway=gw, last_told=last, value="24.0")
                    session.add(row)
        finally:
            engine.dispose()

    with chain(tmp_path, rules, before=seed) as c:
        due_s = at["due"]
        wait = due_s - 0.8 - time.time()
        assert wait > 0, f"the service took too long to start: {-wait:.1f} s late"
        while time.time() < due_s - 0.8:  # the clock: the ack 0.8 s before the reminder
            time.sleep(0.02)
        ack = ["alerts", "ack", ids[TEMBESI], "--by", "meja-piket", "--registry-db", str(c.reg)]
        assert main(ack) == 0
        acked_at = time.time()
        assert acked_at + EVERY < due_s, f"the ack itself took too long: {due_s - acked_at:.2f}"
        wait_for(lambda: c.box.messages, 20, "the reminder e-mail", step=0.02)
        arrived = time.time()
        c.sentinel()
        wait_for(lambda: len(c.box.messages) >= 2, 20, "the sentinel's e-mail")
        out = c.outbox()
    reminders = [m for m in out if m.channel == "email" and SENTINEL not in m.key]
    assert [m.key for m in reminders] == [f"{ids[PASAR]}#2:meja-piket/email"], out
    written = reminders[0].created_at.replace(tzinfo=dt.UTC).timestamp()
    assert due_s <= written <= due_s + EVERY + 0.5, written - due_s
    assert due_s <= arrived
    first = c.box.messages[0]  # the reminder, before the sentinel's e-mail
    key = "".join(first["X-JagaJalan-Idempotency-Key"].split())  # folded: a long header
    assert key == reminders[0].key, first.items()
    assert "Pengingat" in first["Subject"], first["Subject"]  # Indonesian: a reminder
    assert first["To"] == "piket@pupr.example.org"
    assert [e["gateway"] for e in c.told()] == [SENTINEL]  # reminders are for people
    states = {a.gateway: a.state for a in rows(c.reg)}
    assert states[TEMBESI] == "acknowledged" and states[PASAR] == "firing"


def test_a_webhook_down_for_a_while_gets_every_step_once_when_back(tmp_path: Path) -> None:
    """The webhook receiver is down while a flood goes waspada, siaga, awas and back to
    normal; the outbox retries (``--retry-base-s`` 0.2, ``--retry-cap-s`` 1); back on the same
    port, it gets every step once, each signed."""
    extra = {"--retry-base-s": "0.2", "--retry-cap-s": "1"}
    with chain(tmp_path, route((0, "meja-piket")) + GENANGAN + OFFLINE, extra=extra) as c:
        c.hook.stop()
        before = dict(c.hook.raw)  # the probe
        t_ms = int(time.time() * 1000)
        for i, cm in enumerate((12.0, 22.0, 32.0, 0.0)):
            c.water(TEMBESI, cm, t_ms + i * 1000)

        def failed() -> int:
            return sum(m.attempts for m in c.outbox() if m.channel == "webhook")

        wait_for(lambda: failed() >= 8, 30, "two failed rounds while the receiver is down")
        assert c.hook.raw == before
        c.hook.start()
        c.sentinel()
        wait_for(lambda: len(c.told()) == 5, 20, "every step and the sentinel")
    got = [(e["kind"], e["level"]) for e in c.told() if e["gateway"] == TEMBESI]
    assert got == [
        ("raised", "waspada"),
        ("changed", "siaga"),
        ("changed", "awas"),
        ("resolved", "normal"),
    ]
    assert c.hook.rejected == 0 and set(c.hook.raw.values()) == {1}


def test_the_service_killed_while_sending_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """The webhook receiver holds the first request it has received (not answered); ``alerts
    run`` is SIGKILLed then, between sending and recording. Started again, the service takes
    its lease, and after the outbox claim's lease (``--lease-s`` 2) sends the notification
    again with the same key: the receiver, which checks the key, accepts it once. The later
    steps come once each."""
    extra = {"--lease-s": "2", "--retry-base-s": "0.2", "--retry-cap-s": "1"}
    with chain(tmp_path, route((0, "meja-piket")) + GENANGAN + OFFLINE, extra=extra) as c:
        probe = c.hook.requests
        c.hook.hold_after = probe  # every further request is held until released
        t_ms = int(time.time() * 1000)
        c.water(TEMBESI, 12.0, t_ms)
        wait_for(lambda: c.hook.requests == probe + 1, 20, "the webhook has the request")
        (first,) = [k for k, b in c.hook.accepted.items() if b'"probe"' not in b]
        c.procs[0].send_signal(signal.SIGKILL)
        c.procs[0].wait(10)
        c.hook.hold_after = None
        c.hook.release.set()  # the dead service's connection is answered into nothing
        c.start()
        c.acting(2)
        wait_for(lambda: c.hook.raw[first] == 2, 30, "the same key sent again")
        for i, cm in enumerate((22.0, 0.0), start=1):
            c.water(TEMBESI, cm, t_ms + i * 1000)
        c.sentinel()
        out = c.outbox()
    got = [(e["kind"], e["level"]) for e in c.told() if e["gateway"] == TEMBESI]
    assert got == [("raised", "waspada"), ("changed", "siaga"), ("resolved", "normal")]
    assert c.hook.rejected == 0
    assert c.hook.raw[first] == 2 and all(n == 1 for k, n in c.hook.raw.items() if k != first)
    (row,) = [m for m in out if m.key == first]
    assert (row.state, row.attempts) == ("sent", 2)
    text = c.log.read_text()
    assert text.count("event=alerts_started") == 2
