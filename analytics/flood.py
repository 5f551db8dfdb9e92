"""Flood ladders: water on roads and river gauges, and levels that do not flap. Pure.

Guarantees: pure functions and frozen data (no I/O, and never the clock: every time is a
number the caller supplies, e.g. the reading's timestamp); a ladder is checked once when it is
built (keys distinct and tag-safe, thresholds finite and rising strictly, hysteresis and dwell
>= 0), and every error names the ladder, the key and the value. With hysteresis h, a level
raised at its threshold is cleared only when the value falls *below* threshold - h, so a value
that oscillates by less than h around a threshold changes the level at most once.

Ladders are data (:class:`Ladder`): level keys, thresholds, labels in Bahasa Indonesia and
English, stored per site or per gauge. Defaults (../shared/DOMAIN.md):

- :data:`ROAD_DEPTH`, water over a road in cm. No national threshold for road passability
  was found; these are project defaults, configurable per site: >= 10 cm hati-hati, >= 20 cm
  bahaya bagi sepeda motor, >= 30 cm tidak dapat dilalui kendaraan kecil (practice: police
  closed 15-35 cm to motorcycles and low cars in Jakarta 2025; 20-30 cm on the
  Sarolangun-Jambi road stayed open, Kompas 2025, detik 2024). Hysteresis 5 cm: also a project
  default (waves from passing vehicles and sensor noise).
- :func:`river_gauge`: Normal -> Siaga III (waspada) -> Siaga II (kritis) -> Siaga I
  (bencana/awas), thresholds per gauge (PUPR "Modul Sistem Informasi Banjir"); for example
  :data:`BATANGHARI_TANGGO_RAJO` 13.85 / 14.37 / 14.87 m (BPBD Jambi via Antara). "Siaga
  darurat / tanggap darurat" is a district emergency status, not a gauge level.

Distance sensors (ultrasonic, radar) measure from the sensor down to the water:
level = reference - distance (:func:`water_level`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from analytics._checks import non_negative, number, rising

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Step:
    """One level of a ladder: reached when the value is >= *threshold*."""

    key: str
    threshold: float
    label_id: str
    label_en: str

    def label(self, lang: str = "id") -> str:
        return self.label_en if lang == "en" else self.label_id


@dataclass(frozen=True)
class Ladder:
    """Levels above a normal state, thresholds rising, in one unit (cm or m).

    *hysteresis* (same unit) and the dwell times (seconds of the caller's timestamps) are used
    by :func:`update`: a level is raised once the value has been >= its threshold for
    *raise_dwell_s*, and cleared once it has been < threshold - *hysteresis* for
    *clear_dwell_s*.
    """

    name: str
    unit: str
    steps: tuple[Step, ...]
    normal: Step = field(default_factory=lambda: Step("normal", float("-inf"), "Normal", "Normal"))
    hysteresis: float = 0.0
    raise_dwell_s: float = 0.0
    clear_dwell_s: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"ladder {self.name!r}: give at least one level")
        keys = [self.normal.key] + [s.key for s in self.steps]
        for key in keys:
            if not KEY_RE.match(key):
                raise ValueError(
                    f"ladder {self.name!r}: level key {key!r} must be lower-case letters, "
                    "digits and '_', starting with a letter"
                )
        if len(set(keys)) != len(keys):
            raise ValueError(f"ladder {self.name!r}: level keys must be distinct, got {keys}")
        levels = ", ".join(f"{s.key}={s.threshold!r}" for s in self.steps)
        rising(f"ladder {self.name!r}: thresholds ({levels})", [s.threshold for s in self.steps])
        for name in ("hysteresis", "raise_dwell_s", "clear_dwell_s"):
            non_negative(f"ladder {self.name!r}: {name}", getattr(self, name))

    @property
    def keys(self) -> tuple[str, ...]:
        """Level keys from normal upwards (index = level number)."""
        return (self.normal.key, *(s.key for s in self.steps))

    def step(self, level: int) -> Step:
        """The Step of a level number (0 = normal)."""
        return self.normal if level == 0 else self.steps[level - 1]

    def level_of(self, value: float) -> int:
        """The level number the value reaches, without hysteresis (0 = normal)."""
        x = number(f"{self.name} value", value)
        return sum(1 for s in self.steps if x >= s.threshold)

    def key_of(self, value: float) -> str:
        return self.keys[self.level_of(value)]

    def label(self, key: str, lang: str = "id") -> str:
        for s in (self.normal, *self.steps):
            if s.key == key:
                return s.label(lang)
        raise ValueError(f"ladder {self.name!r} has no level {key!r}; levels: {list(self.keys)}")


#: Labels for keys used in configuration (our defaults and the simulators' names of today).
KNOWN_LABELS: Mapping[str, tuple[str, str]] = {
    "hati_hati": ("Hati-hati", "Caution"),
    "bahaya_motor": ("Bahaya bagi sepeda motor", "Dangerous for motorcycles"),
    "tidak_dapat_dilalui": ("Tidak dapat dilalui kendaraan kecil", "Impassable for small vehicles"),
    "siaga_3": ("Siaga III (waspada)", "Alert level III (watch)"),
    "siaga_2": ("Siaga II (kritis)", "Alert level II (critical)"),
    "siaga_1": ("Siaga I (bencana)", "Alert level I (disaster)"),
    "waspada": ("Waspada", "Watch"),
    "siaga": ("Siaga", "Alert"),
    "awas": ("Awas", "Warning"),
}


def ladder_from_levels(
    name: str,
    levels: Mapping[str, float],
    unit: str,
    labels: Mapping[str, tuple[str, str]] | None = None,
    **options: float | str,
) -> Ladder:
    """A ladder from ``{key: threshold}`` as site configuration holds it (e.g. the simulators'
    ``levels = {waspada = 10, siaga = 20, awas = 30}``), ordered by threshold. Labels come
    from *labels*, else :data:`KNOWN_LABELS`, else the key itself."""
    table = {**KNOWN_LABELS, **(labels or {})}
    steps = []
    for key, threshold in sorted(levels.items(), key=lambda kv: number(kv[0], kv[1])):
        label_id, label_en = table.get(key, (key, key))
        steps.append(Step(key, float(threshold), label_id, label_en))
    return Ladder(name, unit, tuple(steps), **options)  # type: ignore[arg-type]


def _steps(*rows: tuple[str, float]) -> tuple[Step, ...]:
    return tuple(Step(key, t, *KNOWN_LABELS[key]) for key, t in rows)


#: Water over a road, cm above the road surface. Project defaults (see the module docstring).
ROAD_DEPTH = Ladder(
    "genangan jalan",
    "cm",
    _steps(("hati_hati", 10.0), ("bahaya_motor", 20.0), ("tidak_dapat_dilalui", 30.0)),
    hysteresis=5.0,
    source="JagaJalan project defaults (no national threshold found); DOMAIN.md",
)


#: The status of water on a road as the simulators' sites and the API name it: normal ->
#: waspada (10 cm) -> siaga (20 cm) -> awas (30 cm). Same thresholds as :data:`ROAD_DEPTH`
#: (project defaults), named like the BPBD alert ladder so that people read it at a glance.
ROAD_STATUS = ladder_from_levels(
    "status genangan jalan",
    {"waspada": 10.0, "siaga": 20.0, "awas": 30.0},
    "cm",
    hysteresis=5.0,
    source="JagaJalan project defaults (thresholds of ROAD_DEPTH); DOMAIN.md",
)


def river_gauge(
    name: str,
    siaga_3: float,
    siaga_2: float,
    siaga_1: float,
    *,
    unit: str = "m",
    hysteresis: float = 0.05,
    source: str = "",
) -> Ladder:
    """The Normal -> Siaga III -> Siaga II -> Siaga I ladder of one gauge. The default
    hysteresis (5 cm) is a project default: rivers rise slowly, sensors wobble by about 1 cm."""
    rows = (("siaga_3", siaga_3), ("siaga_2", siaga_2), ("siaga_1", siaga_1))
    return Ladder(name, unit, _steps(*rows), hysteresis=hysteresis, source=source)


BATANGHARI_TANGGO_RAJO = river_gauge(
    "Batanghari, Tanggo Rajo",
    13.85,
    14.37,
    14.87,
    source="BPBD Jambi via Antara (PUPR Modul Sistem Informasi Banjir ladder)",
)


#: A registry site's ladder kinds (registry/document.py): the level keys of its three rising
#: thresholds and the factor from the registry's unit to the readings' cm
#: (telemetry/units.py: ``water_level.level`` is cm). A river gauge's thresholds are in m.
SITE_LADDERS: Mapping[str, tuple[tuple[str, str, str], float]] = {
    "road_depth": (("waspada", "siaga", "awas"), 1.0),
    "river_gauge": (("siaga_3", "siaga_2", "siaga_1"), 100.0),
}


def site_levels(kind: str, thresholds: Iterable[float]) -> dict[str, float]:
    """``{level key: threshold in cm}`` of a site's ladder as the registry holds it: *kind*
    (``road_depth`` in cm or ``river_gauge`` in m) and its three rising thresholds."""
    if kind not in SITE_LADDERS:
        raise ValueError(f"unknown ladder kind {kind!r}; known: {sorted(SITE_LADDERS)}")
    keys, factor = SITE_LADDERS[kind]
    return {k: round(t * factor, 6) for k, t in zip(keys, thresholds, strict=True)}


def water_level(reference: float, distance: float) -> float:
    """Level = reference - distance, for a sensor that measures down to the water.

    *reference* is the sensor's height above the datum (road surface, gauge zero) in the same
    unit as *distance*. A negative result means the water is below the datum.
    """
    return number("reference", reference) - non_negative("distance", distance)


# -- hysteresis -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepState:
    active: bool = False
    since: float | None = None  # when the condition for a change began to hold


@dataclass(frozen=True)
class LadderState:
    """Where a signal stands on a ladder. Build with :func:`start`, advance with :func:`update`."""

    level: int
    key: str
    steps: tuple[StepState, ...]
    t: float | None = None  # the time of the last sample


@dataclass(frozen=True)
class Transition:
    t: float
    value: float
    from_key: str
    to_key: str
    up: bool


def start(ladder: Ladder, value: float | None = None) -> LadderState:
    """A fresh state: normal, or (after a restart) the level *value* reaches, without dwell."""
    level = 0 if value is None else ladder.level_of(value)
    steps = tuple(StepState(active=i < level) for i in range(len(ladder.steps)))
    return LadderState(level, ladder.keys[level], steps)


def update(ladder: Ladder, state: LadderState, t: float, value: float) -> LadderState:
    """The state after a sample *value* at time *t* (seconds, the caller's clock).

    Each level is its own comparator: raised when value >= threshold has held for
    ``raise_dwell_s``, cleared when value < threshold - hysteresis has held for
    ``clear_dwell_s``. The level is the highest raised one. Times must not go backwards.
    """
    t = number(f"{ladder.name}: time", t)
    x = number(f"{ladder.name} value", value)
    if state.t is not None and t < state.t:
        raise ValueError(f"{ladder.name}: time {t!r} is before the previous sample's {state.t!r}")
    if len(state.steps) != len(ladder.steps):
        raise ValueError(f"{ladder.name}: the state belongs to a ladder of another size")
    steps = []
    for step, s in zip(ladder.steps, state.steps, strict=True):
        if s.active:
            change, dwell = x < step.threshold - ladder.hysteresis, ladder.clear_dwell_s
        else:
            change, dwell = x >= step.threshold, ladder.raise_dwell_s
        if not change:
            steps.append(StepState(s.active))
            continue
        since = t if s.since is None else s.since
        if t - since >= dwell:
            steps.append(StepState(not s.active))
        else:
            steps.append(StepState(s.active, since))
    level = max((i + 1 for i, s in enumerate(steps) if s.active), default=0)
    return LadderState(level, ladder.keys[level], tuple(steps), t)


def track(
    ladder: Ladder,
    samples: Iterable[tuple[float, float]],
    state: LadderState | None = None,
) -> tuple[LadderState, list[Transition]]:
    """Feed (time, value) samples in time order; the final state and every level change."""
    state = start(ladder) if state is None else state
    changes = []
    for t, value in samples:
        new = update(ladder, state, t, value)
        if new.level != state.level:
            up = new.level > state.level
            changes.append(Transition(float(t), float(value), state.key, new.key, up))
        state = new
    return state, changes
