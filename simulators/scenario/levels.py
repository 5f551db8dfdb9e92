"""Named levels of scenario signals and the detection of their crossings. Pure.

``[[expect]] crosses = ...`` in a scenario file names a level of the signal:

- ``water_level``: the site's flood levels (default waspada 10 cm, siaga 20 cm, awas 30 cm,
  configurable per site in ``[sites.flood] levels``), reached when level >= the value;
- ``pm25`` / ``pm10``: an ISPU category (``sedang``, ``tidak_sehat``, ``sangat_tidak_sehat``,
  ``berbahaya``), reached when the ISPU index of the concentration falls in that category or
  a worse one (:mod:`analytics.ispu`);
- ``degree_of_saturation``: a level of service letter (Permenhub KM 14/2006, volume as share
  of capacity: A <= 0.20, B <= 0.45, C <= 0.70, D <= 0.85, E <= 1.00, F above), reached when
  the degree of saturation is above the previous letter's bound;
- any signal: a number, reached when the value >= that number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from analytics import ispu
from analytics.los import VC_KM14_2006

#: Every signal a scenario produces for a site (see Scenario.values).
SIGNALS: tuple[str, ...] = (
    "temperature",
    "humidity",
    "pressure",
    "rain_intensity",
    "wind_speed",
    "wind_direction",
    "pm25",
    "pm10",
    "surface_temperature",
    "water_film",
    "water_level",
    "water_distance",
    "traffic_demand",
    "traffic_flow",
    "traffic_smp",
    "degree_of_saturation",
    "traffic_speed",
)

#: Level of service by degree of saturation: the V/C view of KM 14/2006 (analytics.los).
LOS: tuple[tuple[str, float], ...] = VC_KM14_2006.bounds


@dataclass(frozen=True)
class Level:
    name: str
    threshold: float  # the value at which the level is reached (for people)
    reached: Callable[[float], bool]


def resolve_level(signal: str, site: Any, crosses: str | float) -> Level:
    """The :class:`Level` named *crosses* of *signal* at *site* (a SiteConfig).

    Raises ValueError naming what is wrong (unknown name, a site without flood settings).
    """
    if isinstance(crosses, int | float) and not isinstance(crosses, bool):
        value = float(crosses)
        return Level(f"{value:g}", value, lambda v: v >= value)
    name = str(crosses)
    if signal == "water_level":
        if site.flood is None:
            raise ValueError(f"site {site.gateway!r} has no [flood] settings, so no water levels")
        if name not in site.flood.levels:
            raise ValueError(
                f"no water level {name!r} at {site.gateway!r}; levels: {dict(site.flood.levels)}"
            )
        value = site.flood.levels[name]
        return Level(name, value, lambda v: v >= value)
    if signal in ("pm25", "pm10"):
        want = ispu.rank(name)
        if want == 0:
            raise ValueError("'baik' is the lowest ISPU category; it cannot be crossed upwards")
        threshold = ispu.BREAKPOINTS[signal][want - 1]
        return Level(
            name, threshold, lambda v: ispu.rank(ispu.category_of(signal, max(v, 0)).key) >= want
        )
    if signal == "degree_of_saturation":
        letters = [letter for letter, _ in LOS] + ["F"]
        if name not in letters or name == "A":
            raise ValueError(f"level of service {name!r} unknown; use one of {letters[1:]}")
        bound = LOS[letters.index(name) - 1][1]
        return Level(name, bound, lambda v: v > bound)
    raise ValueError(f"signal {signal!r} has no named levels; give a number instead")


def crossing(
    samples: Sequence[tuple[float, float]], level: Level, direction: str = "up"
) -> float | None:
    """When *level* is crossed in (time, value) samples in time order, or None.

    ``up``: the first sample at which the level is reached (after a sample where it was
    not). ``down``: the sample from which on it is no longer reached for good (the last
    transition from reached to not reached), so a level that flaps with the daily cycle
    while it builds up is judged by when it finally clears.
    """
    previous: bool | None = None
    found: float | None = None
    for t, v in samples:
        now = level.reached(v)
        if previous is not None and now != previous:
            if direction == "up" and now:
                return t
            if direction == "down":
                found = None if now else t
        previous = now
    return found
