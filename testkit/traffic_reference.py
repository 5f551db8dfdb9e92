"""Reference recomputation of the traffic interval summaries from ground truth.

Written from the formulas documented in docs/protocol.md 5.1 (and
gateway/devices/traffic_counter/summary.py),
deliberately without importing the production code, so tests compare two implementations.
Vehicles are dicts in the simulator's truth format: ``time`` (ms), ``lane`` (int),
``direction``, ``speed`` (km/h), ``length`` (m), ``vehicle_class``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

Key = tuple[str, tuple[tuple[str, str], ...], int]  # measurement, sorted tags, time
Pair = tuple[int, str]

EMP = {"SM": 0.25, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}  # DOMAIN.md defaults
CLASSES = ("SM", "KR", "KS", "BB", "TB")


@dataclass
class Params:
    interval_s: int = 60
    classes: tuple[str, ...] = CLASSES
    emp: Mapping[str, float] = field(default_factory=lambda: dict(EMP))
    zone_m: float = 2.0
    capacity: Mapping[int, float] = field(default_factory=dict)
    segment_capacity: float | None = None


def p85(speeds: list[float]) -> float:
    ordered = sorted(speeds)
    rank = math.ceil(Fraction(85, 100) * len(ordered))
    return ordered[rank - 1]


def _speed_fields(speeds: list[float]) -> dict:
    return {"speed_mean": round(math.fsum(speeds) / len(speeds), 2), "speed_p85": p85(speeds)}


def _pcu(vehicles: list[dict], p: Params) -> float:
    per_class = defaultdict(int)
    for v in vehicles:
        per_class[v["vehicle_class"]] += 1
    return round(math.fsum(n * p.emp[c] for c, n in per_class.items()) * 3600 / p.interval_s, 2)


def _occupancy(vehicles: list[dict], p: Params) -> float:
    seconds = []
    for v in vehicles:
        t = p.interval_s if v["speed"] == 0 else (v["length"] + p.zone_m) * 3.6 / v["speed"]
        seconds.append(min(t, p.interval_s))
    return round(min(1.0, math.fsum(seconds) / p.interval_s), 4)


def expected_readings(
    vehicles: Iterable[dict],
    starts: Iterable[int],
    dense: Callable[[int], set[Pair]] | set[Pair],
    p: Params,
) -> dict[Key, dict]:
    """Every reading the intervals starting at *starts* must publish, keyed by point identity.

    *dense*: the (lane, direction) pairs that have a ``traffic_flow`` reading even with no
    vehicles, for every interval or per interval start.
    """
    step = p.interval_s * 1000
    by_start: dict[int, list[dict]] = defaultdict(list)
    for v in vehicles:
        by_start[v["time"] - v["time"] % step].append(v)
    out: dict[Key, dict] = {}
    for start in starts:
        inside = by_start.get(start, [])
        pairs = set(dense(start) if callable(dense) else dense)
        pairs |= {(v["lane"], v["direction"]) for v in inside}
        for lane, direction in pairs:
            group = [v for v in inside if (v["lane"], v["direction"]) == (lane, direction)]
            flow: dict = {
                "count": len(group),
                "pcu_flow": _pcu(group, p),
                "occupancy": _occupancy(group, p),
            }
            if lane in p.capacity:
                flow["degree_of_saturation"] = round(flow["pcu_flow"] / p.capacity[lane], 4)
            if group:
                flow.update(_speed_fields([v["speed"] for v in group]))
            if len(group) >= 2:
                times = [v["time"] for v in group]
                flow["headway_mean"] = round((max(times) - min(times)) / (len(group) - 1) / 1000, 3)
            tags = {"lane": str(lane), "direction": direction}
            out[("traffic_flow", tuple(sorted(tags.items())), start)] = flow
            for cls in p.classes:
                speeds = [v["speed"] for v in group if v["vehicle_class"] == cls]
                if speeds:
                    key_tags = tuple(sorted({**tags, "vehicle_class": cls}.items()))
                    out[("traffic", key_tags, start)] = {
                        "count": len(speeds),
                        **_speed_fields(speeds),
                    }
        if p.segment_capacity is not None:
            q = _pcu(inside, p)
            out[("traffic_segment", (), start)] = {
                "count": len(inside),
                "pcu_flow": q,
                "degree_of_saturation": round(q / p.segment_capacity, 4),
            }
    return out


def forwarded_times(vehicles: Iterable[dict]) -> list[tuple[tuple[str, str, str], int]]:
    """The ``vehicle`` point of each vehicle, in order: a time already taken in its series
    (lane, direction, class) moves 1 ms later until free."""
    taken: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    out = []
    for v in vehicles:
        series = (str(v["lane"]), v["direction"], v["vehicle_class"])
        t = v["time"]
        while t in taken[series]:
            t += 1
        taken[series].add(t)
        out.append((series, t))
    return out
