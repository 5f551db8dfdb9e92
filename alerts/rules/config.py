"""Alert rules as data: the ``[[rules]]`` of ``alerts.toml`` (examples/alerts.toml).

Loaded with :func:`kernel.config.load_toml`, so every mistake names the file, the key and the
value, and all of them are reported at once. Times are seconds (``*_s``), like every JagaJalan
file. A rule watches one measurement's field of the points ingest writes (telemetry/mapping.py:
the readings and the pipeline's ``gateway_status`` and ``jagajalan_device_status``) or of the
indicators job (``jagajalan_ispu_hourly``, ``jagajalan_traffic``, ``jagajalan_flood_status``),
per entity (a gateway's sensor, or the gateway), within its scope:

- ``threshold``: raise at ``above`` (or ``below``), clear once past ``clear`` (hysteresis),
  each after its dwell;
- ``rate``: the field changes faster than ``rise_per_hour`` (or ``fall_per_hour``) over
  ``window_s``;
- ``ladder``: one alert that changes level: explicit ``levels`` (numbers), the site's flood
  ladder from the registry (``site_flood = true``), or ``categories`` of a text field (ISPU
  categories, LOS letters) in rising order;
- ``state``: a text field holds a bad value (``gateway_status.state`` offline, a device state
  not ``ok``) for ``after_s``;
- ``absence``: no point of the measurement from an entity for ``after_s``; an entity that goes
  silent raises an alert, it never resolves by missing.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from analytics import flood
from telemetry.models import NAME_PATTERN
from telemetry.topics import ID_PATTERN

RULE_ID = r"^[a-z][a-z0-9_-]{0,63}$"
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
Name = Annotated[str, Field(pattern=f"^{NAME_PATTERN}$")]
Id = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
DAY_S = 86_400


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(_Model):
    """Which entities a rule watches; every list given must match (empty: all)."""

    kecamatan: list[str] = Field([], description="kecamatan of the gateway's site (registry)")
    sites: list[str] = Field([], description="site ids (registry)")
    gateways: list[Id] = Field([], description="gateway ids")
    sensors: list[Id] = Field([], description="sensor (device) ids")
    tags: dict[str, str] = Field({}, description="tags the point must carry, e.g. lane = '1'")


class _Rule(_Model):
    id: str = Field(pattern=RULE_ID, description="the rule's name, in alerts and the API")
    measurement: Name = Field(description="the measurement watched")
    scope: Scope = Field(default_factory=Scope, description="which entities")
    severity: Severity = Field("warning", description="info, warning or critical")
    title: dict[str, str] = Field(
        {}, description="what people read, per language: {id = '...', en = '...'}"
    )
    route: str = Field("default", pattern=RULE_ID, description="the route (contacts) it takes")

    @field_validator("title")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"id", "en"})
        if unknown:
            raise ValueError(f"languages are id and en, not {unknown}")
        return value


class _Dwell(_Model):
    raise_dwell_s: float = Field(0, ge=0, le=DAY_S, description="the condition holds this long")
    clear_dwell_s: float = Field(0, ge=0, le=DAY_S, description="the clearing holds this long")


class Threshold(_Rule, _Dwell):
    kind: Literal["threshold"] = Field(description="the kind of rule")
    field: Name = Field(description="the numeric field watched")
    above: float | None = Field(None, description="raise at or above this value")
    below: float | None = Field(None, description="raise at or below this value")
    clear: float = Field(description="clear once the value is past this (hysteresis)")
    absolute: bool = Field(False, description="compare the value's size (a clock offset: ±)")

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give one of above and below")
        if self.above is not None and self.clear > self.above:
            raise ValueError(f"clear ({self.clear}) must be at most above ({self.above})")
        if self.below is not None and self.clear < self.below:
            raise ValueError(f"clear ({self.clear}) must be at least below ({self.below})")
        return self

    def ladder(self) -> flood.Ladder:
        """One step; a ``below`` rule watches the value's negative."""
        sign = 1.0 if self.above is not None else -1.0
        edge = sign * (self.above if self.above is not None else self.below)  # type: ignore[operator]
        return flood.Ladder(
            self.id,
            "",
            (flood.Step("raised", edge, "Aktif", "Active"),),
            hysteresis=edge - sign * self.clear,
            raise_dwell_s=self.raise_dwell_s,
            clear_dwell_s=self.clear_dwell_s,
        )


class Rate(_Rule, _Dwell):
    kind: Literal["rate"] = Field(description="the kind of rule")
    field: Name = Field(description="the numeric field watched")
    rise_per_hour: float | None = Field(None, gt=0, description="raise when rising faster")
    fall_per_hour: float | None = Field(None, gt=0, description="raise when falling faster")
    window_s: float = Field(1800, ge=60, le=DAY_S, description="the change is measured over this")

    @model_validator(mode="after")
    def _one_side(self) -> Rate:
        if (self.rise_per_hour is None) == (self.fall_per_hour is None):
            raise ValueError("give one of rise_per_hour and fall_per_hour")
        return self


class LadderRule(_Rule, _Dwell):
    kind: Literal["ladder"] = Field(description="the kind of rule")
    field: Name = Field(description="the field watched: a number, or a text for categories")
    levels: dict[str, float] | None = Field(None, description="level key = threshold, numbers")
    site_flood: bool = Field(False, description="the flood ladder of the gateway's site")
    categories: list[str] | None = Field(
        None, description="alert levels of a text field in rising order; other values: normal"
    )
    hysteresis: float = Field(0, ge=0, description="numeric ladders: clear below threshold - this")
    notify_down: bool = Field(True, description="notify each step down too")
    critical_from: str | None = Field(
        None, description="the level from which the alert is critical; unset: the top one"
    )

    @model_validator(mode="after")
    def _one_source(self) -> LadderRule:
        given = [self.levels is not None, self.site_flood, self.categories is not None]
        if sum(given) != 1:
            raise ValueError("give one of levels, site_flood = true and categories")
        cats = self.categories
        if cats is not None and (not cats or len(set(cats)) != len(cats)):
            raise ValueError("categories: give distinct values, lowest alert level first")
        keys = self.keys()
        top = None if self.critical_from is None else level_key(self.critical_from)
        if top is not None and keys is not None and top not in keys:
            raise ValueError(f"critical_from {self.critical_from!r} is not a level: {keys}")
        return self

    @field_validator("levels")
    @classmethod
    def _rising(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            flood.ladder_from_levels("levels", value, "")  # raises ValueError naming the level
        return value

    def keys(self) -> list[str] | None:
        """The alert levels, lowest first (None: from each site's ladder)."""
        if self.categories is not None:
            return [level_key(c) for c in self.categories]
        if self.levels is not None:
            return list(self.ladder(self.levels).keys[1:])
        return None

    def ladder(self, levels: dict[str, float] | None = None) -> flood.Ladder:
        """The numeric ladder of *levels* (a site's, or the rule's own); for ``categories`` a
        ladder of ranks 1, 2, ... (the value's position in the list)."""
        if self.categories is not None:
            ranks = {level_key(c): float(i) for i, c in enumerate(self.categories, start=1)}
            return flood.ladder_from_levels(
                self.id,
                ranks,
                "",
                labels={level_key(c): (c, c) for c in self.categories},
                raise_dwell_s=self.raise_dwell_s,
                clear_dwell_s=self.clear_dwell_s,
            )
        return flood.ladder_from_levels(
            self.id,
            levels if levels is not None else self.levels or {},
            "",
            hysteresis=self.hysteresis,
            raise_dwell_s=self.raise_dwell_s,
            clear_dwell_s=self.clear_dwell_s,
        )


class State(_Rule):
    kind: Literal["state"] = Field(description="the kind of rule")
    field: Name = Field(description="the text field watched, e.g. state")
    bad: list[str] = Field([], description="values that raise; or use good")
    good: list[str] = Field([], description="the values that are fine; any other raises")
    after_s: float = Field(0, ge=0, le=DAY_S, description="a bad value holds this long")

    @model_validator(mode="after")
    def _one_list(self) -> State:
        if bool(self.bad) == bool(self.good):
            raise ValueError("give one of bad and good")
        return self

    def is_bad(self, value: object) -> bool:
        return str(value) in self.bad if self.bad else str(value) not in self.good


class Absence(_Rule):
    kind: Literal["absence"] = Field(description="the kind of rule")
    after_s: float = Field(ge=60, le=30 * DAY_S, description="silent this long raises")


KINDS = ("threshold", "rate", "ladder", "state", "absence")


def _kind_tag(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"kind[{kind}]" if isinstance(kind, str) else None


# The tags contain "[" so that kernel.config.validate drops them from error locations.
Rule = Annotated[
    Annotated[Threshold, Tag("kind[threshold]")]
    | Annotated[Rate, Tag("kind[rate]")]
    | Annotated[LadderRule, Tag("kind[ladder]")]
    | Annotated[State, Tag("kind[state]")]
    | Annotated[Absence, Tag("kind[absence]")],
    Discriminator(
        _kind_tag,
        custom_error_type="unknown_kind",
        custom_error_message=f"kind must be one of {', '.join(KINDS)}",
    ),
]


class Step(_Model):
    """One step of a route's escalation: these contacts, once nobody has acknowledged for
    ``after_s`` since the alert was raised."""

    after_s: float = Field(0, ge=0, le=7 * DAY_S, description="since the alert was raised")
    contacts: list[Id] = Field(min_length=1, description="contact ids of the registry")


class Route(_Model):
    """Who hears an alert: the escalation steps (the first at ``after_s = 0``) and how often a
    firing alert nobody acknowledged is repeated."""

    id: str = Field(pattern=RULE_ID, description="named by the rules' route")
    escalation: list[Step] = Field(min_length=1, description="the steps, after_s rising")
    reminder_s: float = Field(
        1800, ge=60, le=7 * DAY_S, description="repeat to the current step while unacknowledged"
    )

    @model_validator(mode="after")
    def _rising(self) -> Route:
        times = [s.after_s for s in self.escalation]
        if times[0] != 0 or any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"escalation after_s must start at 0 and rise, got {times}")
        return self


HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHours(_Model):
    """A contact's quiet hours in WIB (``22:00`` to ``06:00`` crosses midnight): warnings and
    info wait until they end; critical alerts go through."""

    contact: Id = Field(description="contact id of the registry")
    start: str = Field(pattern=HHMM, description="HH:MM, WIB")
    end: str = Field(pattern=HHMM, description="HH:MM, WIB")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time")
        return self


class AlertRules(_Model):
    """``alerts.toml``."""

    rules: list[Rule] = Field([], description="the alert rules")
    routes: list[Route] = Field([], description="who hears which alert")
    quiet_hours: list[QuietHours] = Field([], description="per contact")

    @model_validator(mode="after")
    def _distinct(self) -> AlertRules:
        for what, ids in (
            ("rule", [r.id for r in self.rules]),
            ("route", [r.id for r in self.routes]),
        ):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise ValueError(f"{what} ids given twice: {twice}")
        if self.routes:
            known = {r.id for r in self.routes}
            missing = sorted({r.route for r in self.rules} - known)
            if missing:
                raise ValueError(
                    f"routes named by rules but not given: {missing}; routes: {sorted(known)}"
                )
        return self

    def route(self, rule_id: str) -> Route | None:
        rule = next((r for r in self.rules if r.id == rule_id), None)
        if rule is None:
            return None
        return next((r for r in self.routes if r.id == rule.route), None)


def level_key(category: str) -> str:
    """A level key from a category (LOS letters are upper case: ``D`` -> ``d``)."""
    key = re.sub(r"[^a-z0-9_]", "_", category.lower())
    return key if key[:1].isalpha() else f"c_{key}"
