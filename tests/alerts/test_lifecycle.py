"""The alert lifecycle (alerts/lifecycle/policy.py) on an accelerated clock: pure, the clock is
the number passed as *now*. Routes and quiet hours are examples/alerts.toml's."""

from __future__ import annotations

from datetime import datetime

import pytest

from alerts.lifecycle.policy import Lifecycle, Notification, Silence, quiet_end
from alerts.rules.config import AlertRules
from alerts.rules.engine import Event
from kernel.config import load_toml
from kernel.times import WIB
from testkit import REPO

RULES = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
T0 = datetime(2026, 1, 12, 14, 0, tzinfo=WIB).timestamp()  # 14:00 WIB: nobody is asleep


def event(
    kind: str,
    level: str,
    previous: str,
    t: float,
    up: bool = True,
    severity: str = "warning",
    rule: str = "genangan",
) -> Event:
    return Event(rule, "srl-tembesi-01", "wl1", kind, level, previous, up, severity, t, 12.0)  # type: ignore[arg-type]


def told(notes: list[Notification]) -> list[tuple[str, str]]:
    return [(n.kind, n.contact) for n in notes]


def test_nobody_acknowledges_reminders_and_escalation_follow_the_route() -> None:
    life = Lifecycle(RULES)
    assert told(life.apply(event("raised", "waspada", "normal", T0), T0)) == [
        ("raised", "piket-pupr")
    ]
    assert life.due(T0 + 899) == []
    assert told(life.due(T0 + 900)) == [("escalated", "pusdalops-bpbd")]  # 15 min: Pusdalops
    assert life.due(T0 + 900 + 1799) == []
    assert told(life.due(T0 + 2700)) == [("reminder", "piket-pupr"), ("reminder", "pusdalops-bpbd")]
    notes = life.apply(event("resolved", "normal", "waspada", T0 + 3000, up=False), T0 + 3000)
    assert told(notes) == [("resolved", "piket-pupr"), ("resolved", "pusdalops-bpbd")]
    assert life.open == {} and life.due(T0 + 99_999) == []


def test_acknowledging_stops_reminders_and_escalation_and_a_step_up_reopens() -> None:
    life = Lifecycle(RULES)
    (raised,) = life.apply(event("raised", "waspada", "normal", T0), T0)
    alert = life.acknowledge(raised.alert, "piket-pupr", T0 + 60)
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", "piket-pupr")
    assert life.due(T0 + 900) == [] and life.due(T0 + 5000) == []
    # The water rises to siaga: new information, the alert fires again and escalates anew.
    up = life.apply(event("changed", "siaga", "waspada", T0 + 6000), T0 + 6000)
    assert told(up) == [("changed", "piket-pupr")] and alert.state == "firing"
    assert told(life.due(T0 + 6000 + 900)) == [("escalated", "pusdalops-bpbd")]
    life.acknowledge(raised.alert, "pusdalops-bpbd", T0 + 7000)
    down = life.apply(event("changed", "waspada", "siaga", T0 + 8000, up=False), T0 + 8000)
    assert told(down) == [("changed", "piket-pupr"), ("changed", "pusdalops-bpbd")]
    assert alert.state == "acknowledged"  # a step down does not reopen
    with pytest.raises(KeyError):
        life.acknowledge("no-such-alert", "x", T0)


def test_quiet_hours_hold_a_warning_and_let_a_critical_through() -> None:
    night = datetime(2026, 1, 12, 23, 30, tzinfo=WIB).timestamp()
    six = datetime(2026, 1, 13, 6, 0, tzinfo=WIB).timestamp()
    assert quiet_end(RULES.quiet_hours, "teknisi-lapangan", night) == six
    assert quiet_end(RULES.quiet_hours, "teknisi-lapangan", T0) is None
    assert quiet_end(RULES.quiet_hours, "piket-pupr", night) is None
    life = Lifecycle(RULES)
    (warning,) = life.apply(event("raised", "raised", "normal", night, rule="sensor-diam"), night)
    assert (warning.contact, warning.due_s) == ("teknisi-lapangan", six)
    critical = event(
        "raised", "raised", "normal", night, severity="critical", rule="gateway-offline"
    )
    (now,) = life.apply(critical, night)
    assert (now.contact, now.due_s) == ("teknisi-lapangan", night)


def test_a_silence_holds_notifications_until_it_expires() -> None:
    life = Lifecycle(RULES)
    silence = Silence("s1", until_s=T0 + 3600, gateway="srl-tembesi-01", by="piket-pupr")
    assert life.apply(event("raised", "waspada", "normal", T0), T0, [silence]) == []
    assert life.open  # the alert lives on
    assert life.due(T0 + 1800, [silence]) == []
    notes = life.due(T0 + 3700, [silence])  # expired: what is due goes out
    assert told(notes) == [("escalated", "pusdalops-bpbd")]


def test_idempotency_keys_are_unique_per_notification() -> None:
    life = Lifecycle(RULES)
    notes = life.apply(event("raised", "waspada", "normal", T0), T0)
    notes += life.due(T0 + 900) + life.due(T0 + 2700)
    notes += life.apply(event("resolved", "normal", "waspada", T0 + 3000, up=False), T0 + 3000)
    keys = [n.key for n in notes]
    assert len(keys) == len(set(keys)) == 6
    assert keys[0] == f"genangan/srl-tembesi-01/wl1@{round(T0 * 1000)}#1:piket-pupr"
