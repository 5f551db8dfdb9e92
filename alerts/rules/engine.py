"""Evaluating alert rules: points in, alert events out. Pure (no I/O, never the clock).

One alert per rule and entity (a gateway's sensor, or the gateway itself for
``gateway_status``), with a level: ``raised`` when it leaves normal, ``changed`` on each step
of a ladder (down steps only with ``notify_down``), ``resolved`` when it is back to normal.
Hysteresis and dwell are :mod:`analytics.flood`'s comparators (a value oscillating less than
the hysteresis around a threshold changes the level at most once).

Time is the points' own (``time_ms``), and :meth:`Engine.tick` (*now* from the caller) moves
time on without data: it raises absence alerts (no point from an entity for ``after_s``; it
never resolves by missing, only when a point comes) and ``state`` alerts whose bad value has
held for ``after_s`` (a gateway offline by its Last Will sends nothing more). A dwell of a
threshold or ladder completes on the next point (readings are periodic).

A point older than the last one evaluated for its rule and entity is history (a gateway's
spool replayed after an outage, oldest first after the fresh ones): it counts as a sign of
life for absence but does not move a level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from alerts.rules.config import (
    Absence,
    AlertRules,
    LadderRule,
    Rate,
    State,
    Threshold,
    level_key,
)
from analytics import flood
from telemetry.mapping import Point

if TYPE_CHECKING:
    from registry.facts import SiteFacts

EventKind = Literal["raised", "changed", "resolved"]
Entity = tuple[str, str]  # (gateway, sensor); sensor "" for the gateway's own alerts
NORMAL = "normal"


@dataclass(frozen=True)
class Event:
    rule: str
    gateway: str
    sensor: str
    kind: EventKind
    level: str  # the level now (NORMAL once resolved; "raised" for a one-step rule)
    previous: str
    up: bool
    severity: str
    time_s: float
    value: float | str | None = None


def entity_of(point: Point) -> Entity:
    tags = point.tags
    return tags.get("gateway", ""), tags.get("sensor", tags.get("device", ""))


@dataclass
class _Levels:
    """A threshold, rate or ladder alert of one entity."""

    ladder: flood.Ladder
    state: flood.LadderState
    history: deque[tuple[float, float]] = field(default_factory=deque)  # rate rules


@dataclass
class _Watch:
    """A state or absence alert of one entity."""

    last_s: float  # the newest point's time (absence), or when the value turned bad (state)
    bad: bool = False
    active: bool = False
    value: float | str | None = None


class Engine:
    """The alerts of *rules* over the points given to :meth:`observe`; *sites* (the
    registry's, by gateway: :func:`registry.facts.gateway_sites`) scope rules by site and
    kecamatan and give ``site_flood`` ladders."""

    def __init__(self, rules: AlertRules, sites: Mapping[str, SiteFacts] | None = None) -> None:
        self.rules = list(rules.rules)
        self.sites = dict(sites or {})
        self.levels: dict[tuple[str, Entity], _Levels | None] = {}
        self.watches: dict[tuple[str, Entity], _Watch] = {}

    # -- what comes in ---------------------------------------------------------------------
    def observe(self, point: Point) -> list[Event]:
        events: list[Event] = []
        entity = entity_of(point)
        t = point.time_ms / 1000
        for rule in self.rules:
            if rule.measurement != point.measurement or not self.in_scope(rule, entity, point):
                continue
            if isinstance(rule, Absence):
                events += self._seen(rule, entity, t)
            elif isinstance(rule, State):
                if rule.field in point.fields:
                    events += self._state(rule, entity, t, point.fields[rule.field])
            elif rule.field in point.fields:
                events += self._level(rule, entity, t, point.fields[rule.field])
        return events

    def expect(self, rule_id: str, entity: Entity, since_s: float) -> None:
        """An entity that must send (e.g. a sensor of the registry) is watched by absence rule
        *rule_id* from *since_s* even if it never sent anything."""
        self.watches.setdefault((rule_id, entity), _Watch(since_s))

    def restore(self, rule_id: str, entity: Entity, level: str, since_s: float) -> None:
        """An alert open before a restart (or on the instance that took over) continues at
        *level*: the next point at that level raises nothing, one below it steps down."""
        rule = next((r for r in self.rules if r.id == rule_id), None)
        if isinstance(rule, Absence):
            self.watches[(rule_id, entity)] = _Watch(since_s, active=True)
        elif isinstance(rule, State):
            self.watches[(rule_id, entity)] = _Watch(since_s, bad=True, active=True)
        elif rule is not None:
            ladder = self._ladder(rule, entity[0])
            if ladder is None or level not in ladder.keys:
                return
            n = ladder.keys.index(level)
            steps = tuple(flood.StepState(active=i < n) for i in range(len(ladder.steps)))
            self.levels[(rule_id, entity)] = _Levels(ladder, flood.LadderState(n, level, steps))

    def tick(self, now_s: float) -> list[Event]:
        events: list[Event] = []
        by_id = {r.id: r for r in self.rules}
        for (rule_id, (gateway, sensor)), watch in sorted(self.watches.items()):
            rule = by_id[rule_id]
            assert isinstance(rule, Absence | State)
            if watch.active or now_s - watch.last_s < rule.after_s:
                continue
            if isinstance(rule, State) and not watch.bad:
                continue
            watch.active = True
            value = watch.value if isinstance(rule, State) else None
            events.append(
                Event(
                    rule.id,
                    gateway,
                    sensor,
                    "raised",
                    "raised",
                    NORMAL,
                    True,
                    rule.severity,
                    now_s,
                    value,
                )
            )
        return events

    def in_scope(
        self, rule: Threshold | Rate | LadderRule | State | Absence, entity: Entity, point: Point
    ) -> bool:
        scope, (gateway, sensor) = rule.scope, entity
        if scope.gateways and gateway not in scope.gateways:
            return False
        if scope.sensors and sensor not in scope.sensors:
            return False
        if any(point.tags.get(k) != v for k, v in scope.tags.items()):
            return False
        if scope.sites or scope.kecamatan:
            site = self.sites.get(gateway)
            if site is None:
                return False
            if scope.sites and site.site not in scope.sites:
                return False
            if scope.kecamatan and site.kecamatan not in scope.kecamatan:
                return False
        return True

    # -- the kinds -------------------------------------------------------------------------
    def _seen(self, rule: Absence, entity: Entity, t: float) -> list[Event]:
        watch = self.watches.setdefault((rule.id, entity), _Watch(t))
        watch.last_s = max(watch.last_s, t)
        if not watch.active:
            return []
        watch.active = False
        gateway, sensor = entity
        return [
            Event(rule.id, gateway, sensor, "resolved", NORMAL, "raised", False, rule.severity, t)
        ]

    def _state(self, rule: State, entity: Entity, t: float, value: object) -> list[Event]:
        watch = self.watches.get((rule.id, entity))
        if watch is None:
            watch = self.watches[(rule.id, entity)] = _Watch(t)
        elif t < watch.last_s and not watch.bad:
            return []  # history
        bad = rule.is_bad(value)
        gateway, sensor = entity
        shown = value if isinstance(value, str | float) else float(value)  # type: ignore[arg-type]
        if bad and not watch.bad:
            watch.bad, watch.last_s, watch.value = True, t, shown
            return self.tick_one(rule, entity, t) if rule.after_s == 0 else []
        if not bad:
            watch.bad, watch.last_s = False, t
            if watch.active:
                watch.active = False
                return [
                    Event(
                        rule.id,
                        gateway,
                        sensor,
                        "resolved",
                        NORMAL,
                        "raised",
                        False,
                        rule.severity,
                        t,
                        shown,
                    )
                ]
        return []

    def tick_one(self, rule: State, entity: Entity, t: float) -> list[Event]:
        watch = self.watches[(rule.id, entity)]
        watch.active = True
        gateway, sensor = entity
        return [
            Event(
                rule.id,
                gateway,
                sensor,
                "raised",
                "raised",
                NORMAL,
                True,
                rule.severity,
                t,
                watch.value,
            )
        ]

    def _level(
        self, rule: Threshold | Rate | LadderRule, entity: Entity, t: float, raw: object
    ) -> list[Event]:
        key = (rule.id, entity)
        if key not in self.levels:
            ladder = self._ladder(rule, entity[0])
            self.levels[key] = None if ladder is None else _Levels(ladder, flood.start(ladder))
        held = self.levels[key]
        if held is None:
            return []  # a site_flood rule at a gateway whose site has no ladder
        if held.state.t is not None and t < held.state.t:
            return []  # history
        value = self._value(rule, held, t, raw)
        if value is None:
            return []
        before = held.state
        held.state = flood.update(held.ladder, before, t, value)
        if held.state.level == before.level:
            return []
        return self._changed(rule, entity, t, raw, held.ladder, before, held.state)

    def _ladder(self, rule: Threshold | Rate | LadderRule, gateway: str) -> flood.Ladder | None:
        if isinstance(rule, Threshold):
            return rule.ladder()
        if isinstance(rule, Rate):
            rate = rule.rise_per_hour or rule.fall_per_hour or 0.0
            step = (flood.Step("raised", rate, "Aktif", "Active"),)
            return flood.Ladder(
                rule.id,
                "/h",
                step,
                hysteresis=rate / 2,
                raise_dwell_s=rule.raise_dwell_s,
                clear_dwell_s=rule.clear_dwell_s,
            )
        if not rule.site_flood:
            return rule.ladder()
        site = self.sites.get(gateway)
        if site is None or site.flood is None:
            return None
        kind, *thresholds = site.flood
        return rule.ladder(flood.site_levels(kind, thresholds))

    def _value(
        self, rule: Threshold | Rate | LadderRule, held: _Levels, t: float, raw: object
    ) -> float | None:
        if isinstance(rule, LadderRule) and rule.categories is not None:
            ranks = {c: float(i) for i, c in enumerate(rule.categories, start=1)}
            return ranks.get(str(raw), 0.0)
        try:
            x = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if isinstance(rule, Threshold):
            x = abs(x) if rule.absolute else x
            return x if rule.above is not None else -x
        if isinstance(rule, Rate):
            held.history.append((t, x))
            while held.history and held.history[0][0] < t - rule.window_s:
                held.history.popleft()
            t0, x0 = held.history[0]
            if t - t0 < rule.window_s / 2:
                return 0.0  # too short a span to call it a rate yet
            per_hour = (x - x0) / (t - t0) * 3600
            return per_hour if rule.rise_per_hour is not None else -per_hour
        return x

    def _changed(
        self,
        rule: Threshold | Rate | LadderRule,
        entity: Entity,
        t: float,
        raw: object,
        ladder: flood.Ladder,
        before: flood.LadderState,
        after: flood.LadderState,
    ) -> list[Event]:
        up = after.level > before.level
        if after.level == 0:
            kind: EventKind = "resolved"
        elif before.level == 0:
            kind = "raised"
        else:
            kind = "changed"
            if not up and isinstance(rule, LadderRule) and not rule.notify_down:
                return []
        severity = rule.severity
        if isinstance(rule, LadderRule) and after.level > 0:
            top = ladder.keys[-1] if rule.critical_from is None else level_key(rule.critical_from)
            if top in ladder.keys and after.level >= ladder.keys.index(top):
                severity = "critical"
        gateway, sensor = entity
        value = raw if isinstance(raw, str | float | int) else None
        return [
            Event(rule.id, gateway, sensor, kind, after.key, before.key, up, severity, t, value)
        ]


def run(engine: Engine, points: Iterable[Point], tick_every_s: float = 60.0) -> list[Event]:
    """Feed *points* in time order, ticking the engine every *tick_every_s* of their time:
    what the service does as readings arrive (tests and replays)."""
    events: list[Event] = []
    next_tick: float | None = None
    for point in points:
        t = point.time_ms / 1000
        while next_tick is not None and next_tick <= t:
            events += engine.tick(next_tick)
            next_tick += tick_every_s
        if next_tick is None:
            next_tick = t + tick_every_s
        events += engine.observe(point)
    return events
