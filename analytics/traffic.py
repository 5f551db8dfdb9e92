"""Road traffic arithmetic: vehicle classes, ekr, flow, capacity, DJ, speed statistics. Pure.

Guarantees: pure functions of their arguments (no I/O, no clock); numbers that make no sense
(negative counts, flows or speeds, a capacity or interval <= 0, NaN) and names nobody knows
(a class without an ekr, an unknown road type) are refused with a ValueError that names the
argument and the value; every table is data that a caller may replace.

Sources (../shared/DOMAIN.md):

- PKJI 2023 (Pedoman Kapasitas Jalan Indonesia, SE Dirjen Bina Marga 21/SE/Db/2023), which
  replaces MKJI 1997. Classes SM, MP (mobil penumpang; KR in older texts and in today's
  gateway and simulators), KS, BB, TB, KTB; on urban roads BB and TB count as KS. Flow is in
  skr/jam (smp/jam in older texts), each class weighted by its ekr. DJ = q / C, design limit
  DJ <= 0.85. PKJI itself defines no LOS classes (see :mod:`analytics.los`).
- Urban ekr and base capacity C0: VERIFY against the PKJI 2023 PDF. The one implementation
  reachable has the MKJI 1997 values, kept here as configurable defaults.
- KTB (non-motorised) is not part of the flow but a side-friction element in MKJI 1997
  (VERIFY for PKJI 2023): :func:`flow_skr` leaves it out unless told otherwise.

The 85th-percentile speed uses the nearest rank by default (a speed that was measured), as
the gateway's interval summaries do; ``method="linear"`` interpolates between ranks instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from analytics._checks import between, non_negative, number, positive

#: PKJI 2023 vehicle classes.
CLASSES: tuple[str, ...] = ("SM", "MP", "KS", "BB", "TB", "KTB")
CLASS_LABELS: Mapping[str, tuple[str, str]] = {  # (Bahasa Indonesia, English)
    "SM": ("Sepeda motor", "Motorcycle"),
    "MP": ("Mobil penumpang", "Passenger car"),
    "KS": ("Kendaraan sedang", "Medium heavy vehicle"),
    "BB": ("Bus besar", "Large bus"),
    "TB": ("Truk besar", "Large truck"),
    "KTB": ("Kendaraan tidak bermotor", "Non-motorised vehicle"),
}
#: Older names: KR (kendaraan ringan, MKJI 1997; today's gateway and simulators), MKJI's
#: English LV/HV/MC/UM.
CLASS_ALIASES: Mapping[str, str] = {"KR": "MP", "LV": "MP", "HV": "KS", "MC": "SM", "UM": "KTB"}
#: On urban roads PKJI counts large buses and trucks as medium vehicles.
URBAN_AS_KS: Mapping[str, str] = {"BB": "KS", "TB": "KS"}
#: Classes that are side friction, not flow (MKJI 1997 urban roads; VERIFY for PKJI 2023).
NOT_IN_FLOW: tuple[str, ...] = ("KTB",)

#: Road types (lanes/directions, T terbagi = divided, TT tak terbagi = undivided) and the
#: spellings used elsewhere in the project (MKJI's English D/UD).
ROAD_TYPES: tuple[str, ...] = ("2/2-TT", "4/2-TT", "4/2-T", "6/2-T")
ROAD_TYPE_ALIASES: Mapping[str, str] = {
    "2/2UD": "2/2-TT",
    "4/2UD": "4/2-TT",
    "4/2D": "4/2-T",
    "6/2D": "6/2-T",
}

#: The design limit of the degree of saturation (PKJI 2023).
DJ_DESIGN_LIMIT = 0.85


@dataclass(frozen=True)
class EkrTable:
    """The ekr of one road type: a row below the flow threshold, a row at or above it.

    *flow_basis* says which flow picks the row: ``total`` (both directions, 2/2-TT) or
    ``direction`` (per direction, divided roads). The SM value may depend on the carriageway
    width: ``sm`` holds (narrow, wide) per row, narrow meaning width <= *width_limit_m*.
    """

    flow_basis: Literal["total", "direction"]
    threshold: float  # veh/h
    mp: float
    ks: tuple[float, float]  # (below, at or above the threshold)
    sm: tuple[tuple[float, float], tuple[float, float]]  # ((narrow, wide) below, ... above)
    width_limit_m: float = 6.0

    def width_matters(self) -> bool:
        return any(narrow != wide for narrow, wide in self.sm)


#: Urban road ekr (MKJI 1997 = the one PKJI 2023 implementation reachable; VERIFY).
EKR_URBAN: Mapping[str, EkrTable] = {
    "2/2-TT": EkrTable("total", 1800.0, 1.0, (1.3, 1.2), ((0.5, 0.4), (0.35, 0.25))),
    "4/2-T": EkrTable("direction", 1050.0, 1.0, (1.3, 1.2), ((0.40, 0.40), (0.25, 0.25))),
    "6/2-T": EkrTable("direction", 1100.0, 1.0, (1.3, 1.2), ((0.40, 0.40), (0.25, 0.25))),
}
#: Signalised junctions (PKJI 2023 Tabel 5-2): SM 0.15 on protected, 0.40 on opposed phases.
EKR_SIGNALISED: Mapping[str, Mapping[str, float]] = {
    "protected": {"MP": 1.0, "KS": 1.3, "SM": 0.15},
    "opposed": {"MP": 1.0, "KS": 1.3, "SM": 0.40},
}


@dataclass(frozen=True)
class BaseCapacity:
    value: float  # skr/jam
    per: Literal["total", "lane"]  # both directions together, or per lane


#: Base capacity C0, PKJI 2023 (VERIFY): 2/2-TT 2800 skr/jam total, divided 1700 per lane.
BASE_CAPACITY: Mapping[str, BaseCapacity] = {
    "2/2-TT": BaseCapacity(2800.0, "total"),
    "4/2-T": BaseCapacity(1700.0, "lane"),
    "6/2-T": BaseCapacity(1700.0, "lane"),
}
#: MKJI 1997 urban C0, for comparison with older reports.
BASE_CAPACITY_MKJI_1997: Mapping[str, BaseCapacity] = {
    "2/2-TT": BaseCapacity(2900.0, "total"),
    "4/2-T": BaseCapacity(1650.0, "lane"),
    "4/2-TT": BaseCapacity(1500.0, "lane"),
}


# -- names ------------------------------------------------------------------------------------
def class_key(name: str, classes: Iterable[str] = CLASSES) -> str:
    """A class name as used here: ``kr`` -> ``MP``. Unknown names raise a ValueError."""
    key = str(name).strip().upper()
    key = CLASS_ALIASES.get(key, key)
    known = tuple(classes)
    if key not in known:
        raise ValueError(f"unknown vehicle class {name!r}; classes are {list(known)}")
    return key


def road_type_key(name: str) -> str:
    """``2/2UD``, ``2/2 TT`` or ``2/2-tt`` -> ``2/2-TT``. Unknown types raise a ValueError."""
    raw = str(name).strip().upper().replace(" ", "").replace("-", "")
    key = _ROAD_TYPE_LOOKUP.get(raw)
    if key is None:
        raise ValueError(f"unknown road type {name!r}; road types are {list(ROAD_TYPES)}")
    return key


_ROAD_TYPE_LOOKUP = {
    **{k.replace("-", ""): k for k in ROAD_TYPES},
    **ROAD_TYPE_ALIASES,
}


def fold_classes(
    counts: Mapping[str, float], mapping: Mapping[str, str] = URBAN_AS_KS
) -> dict[str, float]:
    """Counts per class with classes merged as *mapping* says (urban: BB and TB into KS)."""
    out: dict[str, float] = {}
    for cls, n in counts.items():
        key = class_key(cls)
        key = mapping.get(key, key)
        out[key] = out.get(key, 0.0) + non_negative(f"count of {cls}", n)
    return out


# -- ekr and flow -----------------------------------------------------------------------------
def ekr(
    road_type: str,
    flow_veh_h: float,
    width_m: float | None = None,
    *,
    tables: Mapping[str, EkrTable] = EKR_URBAN,
    urban: bool = True,
) -> dict[str, float]:
    """The ekr of every motorised class on an urban road of *road_type*.

    *flow_veh_h* is the flow the table is keyed on (both directions for 2/2-TT, per
    direction for divided roads); *width_m* the carriageway width, needed where the SM value
    depends on it. On urban roads BB and TB get the KS value; with ``urban=False`` they are
    left out (give them yourself: the tables here are urban).
    """
    key = road_type_key(road_type)
    table = tables.get(key)
    if table is None:
        raise ValueError(f"no ekr table for road type {key!r}; tables: {sorted(tables)}")
    flow = non_negative(f"flow ({table.flow_basis}, veh/h)", flow_veh_h)
    row = 0 if flow < table.threshold else 1
    if table.width_matters():
        if width_m is None:
            raise ValueError(
                f"{key}: the SM ekr depends on the carriageway width "
                f"(<= {table.width_limit_m:g} m or wider); give width_m"
            )
        wide = positive("carriageway width (m)", width_m) > table.width_limit_m
    else:
        wide = False
    out = {"SM": table.sm[row][1 if wide else 0], "MP": table.mp, "KS": table.ks[row]}
    if urban:
        out.update({cls: out[target] for cls, target in URBAN_AS_KS.items()})
    return out


def ekr_signalised(phase: Literal["protected", "opposed"]) -> dict[str, float]:
    """The ekr at a signalised junction approach (PKJI 2023 Tabel 5-2), BB/TB as KS."""
    try:
        table = dict(EKR_SIGNALISED[phase])
    except KeyError:
        raise ValueError(f"phase {phase!r}: use one of {sorted(EKR_SIGNALISED)}") from None
    table.update({cls: table[target] for cls, target in URBAN_AS_KS.items()})
    return table


def flow_skr(
    counts: Mapping[str, float],
    ekr_by_class: Mapping[str, float],
    interval_s: float = 3600.0,
    *,
    not_in_flow: Iterable[str] = NOT_IN_FLOW,
) -> float:
    """Flow in skr/jam (smp/jam) from vehicle counts per class over *interval_s* seconds.

    Counts may also be hourly rates (veh/h) with the default interval of 3600 s. Classes in
    *not_in_flow* are left out; any other class must have an ekr (0 leaves it out too).
    """
    seconds = positive("interval (s)", interval_s)
    skip = {class_key(c) for c in not_in_flow}
    weights = {class_key(c): non_negative(f"ekr of {c}", v) for c, v in ekr_by_class.items()}
    terms = []
    for cls, n in counts.items():
        key = class_key(cls)
        n = non_negative(f"count of {cls}", n)
        if key in skip:
            continue
        if key not in weights:
            raise ValueError(f"no ekr for vehicle class {cls!r}; ekr given: {sorted(weights)}")
        terms.append(n * weights[key])
    return math.fsum(terms) * 3600.0 / seconds


# -- capacity and saturation ------------------------------------------------------------------
def base_capacity(
    road_type: str,
    lanes: int | None = None,
    *,
    table: Mapping[str, BaseCapacity] = BASE_CAPACITY,
) -> float:
    """C0 of the whole road, skr/jam: the total, or per lane times *lanes* (default: the
    road type's lane count, 4 for 4/2-T)."""
    key = road_type_key(road_type)
    base = table.get(key)
    if base is None:
        raise ValueError(f"no base capacity for road type {key!r}; known: {sorted(table)}")
    if base.per == "total":
        return base.value
    n = int(key.split("/")[0]) if lanes is None else lanes
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"lanes = {lanes!r}: give a whole number >= 1")
    return base.value * n


def capacity(c0: float, factors: Mapping[str, float] | None = None) -> float:
    """C = C0 x the product of the correction factors (PKJI: FCLJ width, FCPA direction
    split, FCHS side friction, FCUK city size), named so an error can say which."""
    c = positive("C0 (skr/jam)", c0)
    for name, f in (factors or {}).items():
        c *= positive(f"capacity factor {name}", f)
    return c


def degree_of_saturation(flow_skr_h: float, capacity_skr_h: float) -> float:
    """DJ = q / C (both skr/jam). Above 1 means demand exceeds capacity."""
    q = non_negative("flow (skr/jam)", flow_skr_h)
    return q / positive("capacity (skr/jam)", capacity_skr_h)


def within_design_limit(dj: float, limit: float = DJ_DESIGN_LIMIT) -> bool:
    """True when DJ <= the design limit (PKJI 2023: 0.85)."""
    return non_negative("DJ", dj) <= positive("DJ design limit", limit)


def travel_time_s(length_km: float, speed_kmh: float) -> float:
    """wT, seconds to travel *length_km* at the travel speed vT."""
    return non_negative("length (km)", length_km) / positive("speed (km/h)", speed_kmh) * 3600


# -- speed statistics -------------------------------------------------------------------------
def percentile(
    values: Iterable[float],
    percent: float = 85,
    method: Literal["nearest_rank", "linear"] = "nearest_rank",
) -> float:
    """The *percent*-th percentile of *values* (at least one).

    ``nearest_rank``: the value at rank ceil(p/100 * n) of the sorted values (1-based), so a
    value that was measured (traffic speed studies; the gateway's ``speed_p85``).
    ``linear``: interpolated between the ranks around (n - 1) * p/100 (numpy's default).
    """
    ordered = sorted(number("value", v) for v in values)
    p = between("percent", percent, 0, 100)
    if not ordered:
        raise ValueError("percentile of no values: give at least one")
    n = len(ordered)
    if method == "nearest_rank":
        if p == 0:
            return ordered[0]
        rank = math.ceil(round(p * n / 100, 9))  # 85 * 20 / 100 is 17, not 17.000000000000004
        return ordered[rank - 1]
    if method == "linear":
        pos = (n - 1) * p / 100
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    raise ValueError(f"method {method!r}: use 'nearest_rank' or 'linear'")


def speed_p85(speeds_kmh: Iterable[float]) -> float:
    """The 85th-percentile spot speed (nearest rank), km/h."""
    return percentile((non_negative("speed (km/h)", v) for v in speeds_kmh), 85)


def space_mean_speed(speeds_kmh: Iterable[float]) -> float:
    """Harmonic mean of spot speeds: the mean speed over a road section, km/h."""
    speeds = [positive("speed (km/h)", v) for v in speeds_kmh]
    if not speeds:
        raise ValueError("space mean speed of no speeds: give at least one")
    return len(speeds) / math.fsum(1 / v for v in speeds)
