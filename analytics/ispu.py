"""ISPU (Indeks Standar Pencemar Udara), the Indonesian air-quality index. Pure arithmetic.

Guarantees: every function here is a pure function of its arguments (no I/O, no clock, no
global state); a concentration that is negative, NaN or infinite and a parameter without
breakpoints are refused with a ValueError that names the parameter and the value; an index
is never below 0 nor above 500, and never falls when a concentration rises.

Source: Permen LHK P.14/MENLHK/SETJEN/KUM.1/7/2020, "tabel konversi" (upper breakpoints in
µg/m³ for ISPU 50/100/200/300/500), as reproduced by the ministry's ISPU page, by
openaq/aqi-hub ``src/data/breakpoints/indonesia.csv`` (whose NO2 "2000" is a typo for 200)
and by independent implementations (../shared/DOMAIN.md). The sub-index of a parameter is
interpolated linearly inside its band (regulation wording: ISPU/ambien batas atas/bawah)::

    I = (Ia - Ib) / (Xa - Xb) * (Xx - Xb) + Ib

The table gives only upper values, so where a band starts is a choice (:class:`IspuScale`):

- ``continuous`` (default): Xb and Ib are the previous row's concentration and index, the first
  band starts at 0/0, so the index is a continuous function of the concentration.
- ``openaq``: bands start one table step above the previous row (+0.1 µg/m³ for PM2.5,
  +1 for the others) with Ib 51/101/201/301, as openaq/aqi-hub tabulates them. The
  concentration is first truncated to that step (15.55 -> 15.5), so no value falls into the
  gap between two bands. The two variants differ by at most one index point. (The aqi-hub
  CSV starts its last band at 300, not 301; we follow the 51/101/201/301 pattern.)

Above the last breakpoint the index is 500 (the scale ends there; published values such as
Kota Jambi's 562 in October 2015 are beyond it). The station ISPU is the highest sub-index,
named with its parameter. Averaging is the caller's business: these functions take averaged
concentrations; :data:`AVERAGING_HOURS` holds the default periods, and an index computed from
a shorter window is "indikatif", not official ISPU (:meth:`IspuScale.indicative`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from analytics._checks import non_negative, positive, rising

#: The seven ISPU parameters, keys in the order of the regulation's conversion table.
PARAMETERS: tuple[str, ...] = ("pm25", "pm10", "so2", "co", "o3", "no2", "hc")
#: How people write them.
PARAMETER_NAMES: Mapping[str, str] = {
    "pm25": "PM2.5",
    "pm10": "PM10",
    "so2": "SO2",
    "co": "CO",
    "o3": "O3",
    "no2": "NO2",
    "hc": "HC",
}

#: Index values at the upper end of each band.
INDEX_STEPS: tuple[float, ...] = (50.0, 100.0, 200.0, 300.0, 500.0)
#: The scale ends here: a concentration above the last breakpoint gives this index.
MAX_INDEX = 500.0

#: Upper breakpoints (µg/m³) for index 50 / 100 / 200 / 300 / 500 (Permen LHK P.14/2020).
BREAKPOINTS: Mapping[str, tuple[float, ...]] = {
    "pm25": (15.5, 55.4, 150.4, 250.4, 500.0),
    "pm10": (50.0, 150.0, 350.0, 420.0, 500.0),
    "so2": (52.0, 180.0, 400.0, 800.0, 1200.0),
    "co": (4000.0, 8000.0, 15000.0, 30000.0, 45000.0),
    "o3": (120.0, 235.0, 400.0, 800.0, 1000.0),
    "no2": (80.0, 200.0, 1130.0, 2260.0, 3000.0),
    "hc": (45.0, 100.0, 215.0, 432.0, 648.0),
}

#: ``openaq`` variant: the table's step; a band starts this far above the previous row.
OPENAQ_STEP: Mapping[str, float] = {p: (0.1 if p == "pm25" else 1.0) for p in PARAMETERS}
#: ``openaq`` variant: the index at the start of each band.
OPENAQ_INDEX_LOWER: tuple[float, ...] = (0.0, 51.0, 101.0, 201.0, 301.0)

#: Default averaging period per parameter, hours. The reproduced P.14/2020 table labels every
#: column "24 jam" (DOMAIN.md: still open, configurable per parameter).
AVERAGING_HOURS: Mapping[str, float] = {p: 24.0 for p in PARAMETERS}
#: The periods of the 1997 rules (Kep Bapedal 107/1997, PP 41/1999), for sites that follow
#: them: CO 8 h, O3 and NO2 1 h, HC 3 h; particulates and SO2 24 h.
AVERAGING_HOURS_1997: Mapping[str, float] = {
    "pm25": 24.0,
    "pm10": 24.0,
    "so2": 24.0,
    "co": 8.0,
    "o3": 1.0,
    "no2": 1.0,
    "hc": 3.0,
}

Variant = Literal["continuous", "openaq"]
VARIANTS: tuple[str, ...] = ("continuous", "openaq")


@dataclass(frozen=True)
class Category:
    """One ISPU category: machine key, published labels, official colour, index range.

    ``category(index)`` is the first category whose ``upper`` is >= the index; ``lower`` is
    the published integer start (51, 101, ...), for display: 50.4 is already Sedang.
    """

    key: str  # machine name, e.g. "tidak_sehat"
    label_id: str  # Bahasa Indonesia, as published
    label_en: str
    colour: str  # official hex colour of the ISPU publication
    upper: float  # highest index of the category (inclusive); inf for the last
    lower: float = 0.0
    colour_id: str = ""  # the colour's name as the regulation says it
    colour_en: str = ""

    def label(self, lang: str = "id") -> str:
        return self.label_en if lang == "en" else self.label_id


CATEGORIES: tuple[Category, ...] = (
    Category("baik", "Baik", "Good", "#00cc00", 50, 0, "hijau", "green"),
    Category("sedang", "Sedang", "Moderate", "#0000cc", 100, 51, "biru", "blue"),
    Category("tidak_sehat", "Tidak Sehat", "Unhealthy", "#cccc00", 200, 101, "kuning", "yellow"),
    Category(
        "sangat_tidak_sehat",
        "Sangat Tidak Sehat",
        "Very unhealthy",
        "#cc0000",
        300,
        201,
        "merah",
        "red",
    ),
    Category("berbahaya", "Berbahaya", "Hazardous", "#000000", math.inf, 301, "hitam", "black"),
)
CATEGORY_KEYS: tuple[str, ...] = tuple(c.key for c in CATEGORIES)


@dataclass(frozen=True)
class StationIspu:
    """A station's ISPU: the highest sub-index, the parameter that gives it, its category."""

    index: float
    parameter: str  # the dominant parameter (ties: the first in PARAMETERS order)
    category: Category
    sub_indices: Mapping[str, float]


def parameter_key(name: str) -> str:
    """``PM2.5``, ``pm2.5``, ``PM 10``, ``NO2`` ... -> the key used here (``pm25``)."""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


@dataclass(frozen=True)
class IspuScale:
    """A configured ISPU scale. Built once from configuration; errors name the key.

    *breakpoints*, *openaq_step* and *averaging_hours* default to the module's tables; give a
    mapping with some parameters to override only those.
    """

    variant: Variant = "continuous"
    breakpoints: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    openaq_step: Mapping[str, float] = field(default_factory=dict)
    averaging_hours: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant = {self.variant!r}: use one of {list(VARIANTS)}")
        points = {**BREAKPOINTS, **{parameter_key(k): v for k, v in self.breakpoints.items()}}
        for p, row in points.items():
            row = rising(f"breakpoints.{p}", row)
            if len(row) != len(INDEX_STEPS) or row[0] <= 0:
                raise ValueError(
                    f"breakpoints.{p} = {list(row)}: give {len(INDEX_STEPS)} upper "
                    f"concentrations > 0, for ISPU {'/'.join(f'{i:g}' for i in INDEX_STEPS)}"
                )
            points[p] = row
        steps = {**OPENAQ_STEP, **{parameter_key(k): v for k, v in self.openaq_step.items()}}
        for p, step in steps.items():
            steps[p] = positive(f"openaq_step.{p}", step)
        hours = {
            **AVERAGING_HOURS,
            **{parameter_key(k): v for k, v in self.averaging_hours.items()},
        }
        for p, h in hours.items():
            hours[p] = positive(f"averaging_hours.{p}", h)
        object.__setattr__(self, "breakpoints", points)
        object.__setattr__(self, "openaq_step", steps)
        object.__setattr__(self, "averaging_hours", hours)

    def sub_index(self, parameter: str, concentration: float) -> float:
        """The sub-index of *parameter* at *concentration* µg/m³ (averaged by the caller)."""
        key = parameter_key(parameter)
        points = self.breakpoints.get(key)
        if points is None:
            raise ValueError(
                f"no ISPU breakpoints for {parameter!r}; known: {sorted(self.breakpoints)}"
            )
        x = non_negative(f"{parameter} concentration", concentration)
        if self.variant == "openaq":
            return _openaq(points, self.openaq_step.get(key, 1.0), x)
        return _continuous(points, x)

    def station(self, concentrations: Mapping[str, float | None]) -> StationIspu:
        """The station ISPU of the given concentrations (None values are skipped)."""
        subs = {
            parameter_key(p): self.sub_index(p, x)
            for p, x in concentrations.items()
            if x is not None
        }
        if not subs:
            raise ValueError("no concentrations given: a station ISPU needs at least one")
        order = {p: i for i, p in enumerate(PARAMETERS)}
        top = max(subs.items(), key=lambda kv: (kv[1], -order.get(kv[0], len(order))))
        return StationIspu(top[1], top[0], category(top[1]), subs)

    def indicative(self, parameter: str, window_hours: float) -> bool:
        """True when an average over *window_hours* is shorter than the parameter's period:
        an index from it is "indikatif", not official ISPU."""
        key = parameter_key(parameter)
        if key not in self.averaging_hours:
            raise ValueError(f"no ISPU averaging period for {parameter!r}")
        return window_hours < self.averaging_hours[key]


def _continuous(points: tuple[float, ...], x: float) -> float:
    low_x, low_i = 0.0, 0.0
    for high_x, high_i in zip(points, INDEX_STEPS, strict=True):
        if x <= high_x:
            return (high_i - low_i) / (high_x - low_x) * (x - low_x) + low_i
        low_x, low_i = high_x, high_i
    return MAX_INDEX


def _openaq(points: tuple[float, ...], step: float, x: float) -> float:
    x = _truncate(x, step)
    for n, (high_x, high_i) in enumerate(zip(points, INDEX_STEPS, strict=True)):
        if x <= high_x:
            low_x = 0.0 if n == 0 else points[n - 1] + step
            low_i = OPENAQ_INDEX_LOWER[n]
            if x <= low_x:  # only at a band's first value (and 0)
                return low_i
            return (high_i - low_i) / (high_x - low_x) * (x - low_x) + low_i
    return MAX_INDEX


def _truncate(x: float, step: float) -> float:
    """*x* cut down to a multiple of *step* (15.55 -> 15.5 for 0.1), without float drift."""
    return round(math.floor(round(x / step, 9)) * step, 9)


#: The scale with every default (continuous bands, 24 h averaging).
DEFAULT_SCALE = IspuScale()


def ispu_index(parameter: str, concentration: float, scale: IspuScale = DEFAULT_SCALE) -> float:
    """The ISPU sub-index of *parameter* (``pm25``, ``pm10``, ...) at *concentration* µg/m³.

    Values above the last breakpoint give 500; negative values are refused with a ValueError
    naming the parameter.
    """
    return scale.sub_index(parameter, concentration)


def station_ispu(
    concentrations: Mapping[str, float | None], scale: IspuScale = DEFAULT_SCALE
) -> StationIspu:
    """Station ISPU = the highest sub-index, with its (dominant) parameter."""
    return scale.station(concentrations)


def category(index: float) -> Category:
    """The category of an ISPU index: Baik up to 50, Sedang up to 100, and so on."""
    if math.isnan(index) or index < 0:
        raise ValueError(f"ISPU index {index!r} is not a number >= 0")
    for cat in CATEGORIES:
        if index <= cat.upper:
            return cat
    return CATEGORIES[-1]


def category_of(parameter: str, concentration: float, scale: IspuScale = DEFAULT_SCALE) -> Category:
    return category(scale.sub_index(parameter, concentration))


def category_by_key(key: str) -> Category:
    return CATEGORIES[rank(key)]


def rank(key: str) -> int:
    """Position of a category key in the scale (baik = 0 ... berbahaya = 4)."""
    try:
        return CATEGORY_KEYS.index(key)
    except ValueError:
        raise ValueError(f"unknown ISPU category {key!r}; known: {list(CATEGORY_KEYS)}") from None
