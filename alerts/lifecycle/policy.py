"""An alert's life and who hears of it: firing -> acknowledged -> resolved. Pure (no I/O, the
clock only as *now* from the caller).

- :meth:`Lifecycle.apply` takes an engine event (alerts/rules/engine.py): ``raised`` opens an
  alert and tells the route's first step; ``changed`` tells everyone told so far (a step down
  only if the rule notifies steps down); a step **up** after an acknowledgement opens the
  alert again (new information), a step down does not; ``resolved`` tells everyone told so far
  ("selesai") and closes it.
- :meth:`Lifecycle.due` is the clock: while nobody acknowledges, a reminder every route
  ``reminder_s`` (also when no data comes: it needs no event), and the next escalation step
  once its ``after_s`` has passed since the alert was raised (or last stepped up).
- :meth:`Lifecycle.acknowledge` stops both.
- Silences (with an expiry) hold back every notification of the alerts they match; the
  alert itself lives on, and reminders resume when the silence ends.
- Quiet hours per contact (WIB): a warning or info notification due inside them is due at
  their end instead; a critical one goes through.

Every notification carries an idempotency key (alert id, its sequence number, the contact), the
same however often the outbox retries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from alerts.rules.config import AlertRules, LadderRule, QuietHours, Route
from alerts.rules.engine import NORMAL, Event
from kernel.times import WIB

if TYPE_CHECKING:
    from registry.facts import SiteFacts

State = Literal["firing", "acknowledged", "resolved"]
Kind = Literal["raised", "changed", "reminder", "escalated", "resolved"]


@dataclass
class Alert:
    """One occurrence of a rule's alert at one entity, from raised to resolved."""

    id: str  # rule/gateway/sensor@raised time (ms): unique, stable
    rule: str
    gateway: str
    sensor: str
    level: str
    severity: str
    value: float | str | None
    raised_at: float
    state: State = "firing"
    since: float = 0.0  # escalation and reminders count from here (raise, or a step up)
    step: int = 0  # the escalation step reached
    last_told: float = 0.0  # the last notification to the steps reached
    seq: int = 0  # notifications made so far (idempotency keys)
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None


@dataclass(frozen=True)
class Notification:
    alert: str
    contact: str
    kind: Kind
    severity: str
    level: str
    previous: str
    value: float | str | None
    rule: str
    gateway: str
    sensor: str
    time_s: float  # what happened when
    due_s: float  # when to send (quiet hours move it)
    key: str  # idempotency key


@dataclass(frozen=True)
class Silence:
    """Hold back notifications of matching alerts until *until_s*. Unset matchers match all."""

    id: str
    until_s: float
    rule: str | None = None
    gateway: str | None = None
    site: str | None = None
    by: str = ""
    reason: str = ""

    def matches(self, alert: Alert, site: str | None, now_s: float) -> bool:
        return (
            now_s < self.until_s
            and self.rule in (None, alert.rule)
            and self.gateway in (None, alert.gateway)
            and self.site in (None, site)
        )


@dataclass
class Lifecycle:
    rules: AlertRules
    sites: Mapping[str, SiteFacts] = field(default_factory=dict)
    open: dict[tuple[str, str, str], Alert] = field(default_factory=dict)

    # -- events ----------------------------------------------------------------------------
    def apply(
        self, event: Event, now_s: float, silences: Iterable[Silence] = ()
    ) -> list[Notification]:
        key = (event.rule, event.gateway, event.sensor)
        alert = self.open.get(key)
        if event.kind == "raised" or alert is None:
            if event.kind == "resolved":
                return []  # nothing open (e.g. raised before a restart without state)
            alert = Alert(
                id=alert_id(event),
                rule=event.rule,
                gateway=event.gateway,
                sensor=event.sensor,
                level=event.level,
                severity=event.severity,
                value=event.value,
                raised_at=event.time_s,
                since=event.time_s,
                last_told=now_s,
            )
            self.open[key] = alert
            return self._tell(alert, "raised", NORMAL, event.time_s, now_s, silences, [0])
        previous = alert.level
        alert.level, alert.severity, alert.value = event.level, event.severity, event.value
        reached = list(range(alert.step + 1))
        if event.kind == "resolved":
            alert.state, alert.resolved_at = "resolved", event.time_s
            del self.open[key]
            return self._tell(alert, "resolved", previous, event.time_s, now_s, silences, reached)
        if event.up and alert.state == "acknowledged":
            alert.state, alert.acknowledged_by, alert.acknowledged_at = "firing", None, None
        if event.up:
            alert.since = event.time_s  # a new level: escalation counts again from here
        rule = next((r for r in self.rules.rules if r.id == event.rule), None)
        if not event.up and isinstance(rule, LadderRule) and not rule.notify_down:
            return []
        alert.last_told = now_s
        return self._tell(alert, "changed", previous, event.time_s, now_s, silences, reached)

    def acknowledge(self, alert_id: str, who: str, now_s: float) -> Alert:
        """KeyError when no open alert has this id; an acknowledged one stays as it was."""
        alert = next((a for a in self.open.values() if a.id == alert_id), None)
        if alert is None:
            raise KeyError(alert_id)
        if alert.state == "firing":
            alert.state, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", who, now_s
        return alert

    # -- the clock -------------------------------------------------------------------------
    def due(self, now_s: float, silences: Iterable[Silence] = ()) -> list[Notification]:
        """Escalations and reminders due at *now_s*; a silenced alert waits (it neither
        escalates nor reminds until the silence ends)."""
        silences = list(silences)
        out: list[Notification] = []
        for alert in sorted(self.open.values(), key=lambda a: a.id):
            route = self.rules.route(alert.rule)
            if alert.state != "firing" or route is None or self._silenced(alert, silences, now_s):
                continue
            nxt = alert.step + 1
            if nxt < len(route.escalation) and now_s - alert.since >= route.escalation[nxt].after_s:
                alert.step, alert.last_told = nxt, now_s
                out += self._tell(alert, "escalated", alert.level, now_s, now_s, silences, [nxt])
            elif now_s - alert.last_told >= route.reminder_s:
                alert.last_told = now_s
                reached = list(range(alert.step + 1))
                out += self._tell(alert, "reminder", alert.level, now_s, now_s, silences, reached)
        return out

    # -- who hears it ----------------------------------------------------------------------
    def _silenced(self, alert: Alert, silences: Iterable[Silence], now_s: float) -> bool:
        facts = self.sites.get(alert.gateway)
        site = facts.site if facts is not None else None
        return any(s.matches(alert, site, now_s) for s in silences)

    def _tell(
        self,
        alert: Alert,
        kind: Kind,
        previous: str,
        time_s: float,
        now_s: float,
        silences: Iterable[Silence],
        steps: list[int],
    ) -> list[Notification]:
        route = self.rules.route(alert.rule)
        if route is None or self._silenced(alert, silences, now_s):
            return []
        alert.seq += 1
        out = []
        for contact in _contacts(route, steps):
            due = now_s
            if alert.severity != "critical":
                due = quiet_end(self.rules.quiet_hours, contact, now_s) or now_s
            out.append(
                Notification(
                    alert=alert.id,
                    contact=contact,
                    kind=kind,
                    severity=alert.severity,
                    level=alert.level if kind != "resolved" else NORMAL,
                    previous=previous,
                    value=alert.value,
                    rule=alert.rule,
                    gateway=alert.gateway,
                    sensor=alert.sensor,
                    time_s=time_s,
                    due_s=due,
                    key=f"{alert.id}#{alert.seq}:{contact}",
                )
            )
        return out


def alert_id(event: Event) -> str:
    """``rule/gateway/sensor@raised ms``: unique per occurrence, the same on every instance."""
    return f"{event.rule}/{event.gateway}/{event.sensor or '-'}@{round(event.time_s * 1000)}"


def _contacts(route: Route, steps: list[int]) -> list[str]:
    seen: list[str] = []
    for i in steps:
        seen += [c for c in route.escalation[i].contacts if c not in seen]
    return seen


def quiet_end(quiet: Iterable[QuietHours], contact: str, now_s: float) -> float | None:
    """When the contact's quiet hours that hold at *now_s* end (None: not quiet now)."""
    local = datetime.fromtimestamp(now_s, UTC).astimezone(WIB)
    for q in quiet:
        if q.contact != contact:
            continue
        start, end = _hhmm(q.start), _hhmm(q.end)
        t = local.time()
        inside = (start <= t < end) if start < end else (t >= start or t < end)
        if inside:
            day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
            return datetime.combine(day, end, WIB).timestamp()
    return None


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
