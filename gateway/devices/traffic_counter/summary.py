"""Traffic interval summaries: the statistics of one closed interval. Pure: no I/O, no clock.

Given the vehicle records of one interval, :func:`interval_readings` returns the readings
the gateway publishes for it (docs/protocol.md 5.1):

- ``traffic_flow``, one per lane and direction: ``count`` (int), ``pcu_flow`` (pcu/h),
  ``occupancy`` (0-1), ``degree_of_saturation`` (when the lane's capacity is configured) and,
  when there are vehicles, ``speed_mean`` and ``speed_p85``; ``headway_mean`` from 2 vehicles.
- ``traffic``, one per lane, direction and vehicle class *with vehicles*: ``count``,
  ``speed_mean``, ``speed_p85``. A class without vehicles has no reading: its zero is the
  lane's ``traffic_flow`` reading of the same interval.
- ``traffic_segment``, one per interval, when a segment capacity is configured: ``count``,
  ``pcu_flow`` and ``degree_of_saturation`` of all lanes and directions together.

Formulas (v = spot speed in km/h, L = vehicle length in m, T = interval in s):

- ``speed_mean`` = round(fsum(v) / n, 2).
- ``speed_p85``: nearest rank, as in traffic engineering speed studies: the speeds sorted
  ascending, the value at rank ceil(0.85 * n) (1-based), so always a speed that was measured.
- ``pcu_flow`` (smp/jam, PKJI: skr/jam) = round(fsum(count_c * emp_c over classes c) * 3600 / T,
  2).
- ``degree_of_saturation`` (DS, PKJI: DJ) = round(pcu_flow / C, 4), C the capacity in pcu/h.
- ``occupancy`` = round(min(1, fsum(min(t_i, T)) / T), 4) with t_i = (L_i + Z) * 3.6 / v_i the
  seconds vehicle i occupies a detection zone of length Z m (t_i = T when v_i = 0). A vehicle
  counts in full in the interval of its detection time.
- ``headway_mean`` = round((t_last - t_first) / (n - 1) / 1000, 3) s: the mean gap between
  successive vehicles of the lane and direction inside the interval (gaps across interval
  boundaries are not counted).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.devices.traffic_counter.protocol import VEHICLE_CLASSES, VehicleRecord
from telemetry.models import Reading

#: Passenger-car equivalents per class (emp; PKJI 2023 calls them ekr), used for ``pcu_flow``.
#: Source: MKJI 1997 (Manual Kapasitas Jalan Indonesia, Direktorat Jenderal Bina Marga), urban
#: roads, as summarised in ../shared/DOMAIN.md; superseded by PKJI 2023 (Bina Marga circular
#: SE 21/SE/Db/2023). VERIFY per road against PKJI 2023: configurable (``emp``) for that reason.
DEFAULT_EMP: Mapping[str, float] = {"SM": 0.25, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3}
#: emp of motorcycles on two-lane two-way undivided roads (2/2 UD), MKJI 1997 (VERIFY, as above).
EMP_SM_UNDIVIDED = 0.4
#: Road types of MKJI/PKJI (lanes/directions, D divided, UD undivided). Only "2/2UD" changes a
#: default today (the motorcycle emp).
ROAD_TYPES = ("2/2UD", "4/2UD", "4/2D", "6/2D")
#: Length of the detection zone in the direction of travel, m: an inductive loop is typically
#: about 2 m (6 ft) long. VERIFY per installation (radar and video zones differ), hence the
#: ``detection_zone`` setting.
DEFAULT_DETECTION_ZONE_M = 2.0
#: The speed percentile published as ``speed_p85``.
SPEED_PERCENTILE = 85

Pair = tuple[int, str]  # (lane, direction)


def emp_factors(
    classes: Sequence[str],
    overrides: Mapping[str, float] | None = None,
    road_type: str | None = None,
) -> dict[str, float]:
    """The emp of every class: *overrides*, else the defaults (SM 0.4 on a 2/2UD road).

    Raises ValueError naming a class that has no factor (a class outside the defaults must
    be given one).
    """
    overrides = overrides or {}
    defaults = dict(DEFAULT_EMP)
    if road_type == "2/2UD":
        defaults["SM"] = EMP_SM_UNDIVIDED
    out = {}
    for cls in classes:
        value = overrides.get(cls, defaults.get(cls))
        if value is None:
            raise ValueError(f"no emp factor for vehicle class {cls!r}; give emp.{cls}")
        out[cls] = float(value)
    return out


@dataclass(frozen=True)
class SummaryConfig:
    """What the summaries need besides the records. *emp* must cover every class."""

    classes: tuple[str, ...] = VEHICLE_CLASSES
    emp: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EMP))
    detection_zone_m: float = DEFAULT_DETECTION_ZONE_M
    capacity: Mapping[int, float] = field(default_factory=dict)  # lane -> pcu/h
    segment_capacity: float | None = None  # pcu/h, all lanes and directions

    def __post_init__(self) -> None:
        missing = [cls for cls in self.classes if cls not in self.emp]
        if missing:
            raise ValueError(f"no emp factor for vehicle class(es) {missing}")
        if self.detection_zone_m < 0:
            raise ValueError("detection_zone_m must be >= 0")
        if any(c <= 0 for c in self.capacity.values()) or (
            self.segment_capacity is not None and self.segment_capacity <= 0
        ):
            raise ValueError("capacities must be > 0")


# -- statistics -------------------------------------------------------------------------------
def percentile_nearest_rank(values: Iterable[float], percent: int) -> float:
    """The value at rank ceil(percent/100 * n) of the sorted values (1-based), n >= 1."""
    ordered = sorted(values)
    if not ordered or not 0 < percent <= 100:
        raise ValueError("need at least one value and 0 < percent <= 100")
    rank = -(-percent * len(ordered) // 100)  # ceil in integers: no 0.85 * 20 = 16.999... trap
    return ordered[rank - 1]


def speed_mean(speeds: Sequence[float]) -> float:
    return round(math.fsum(speeds) / len(speeds), 2)


def occupancy(vehicles: Iterable[VehicleRecord], zone_m: float, interval_s: float) -> float:
    total = math.fsum(_occupied_s(v, zone_m, interval_s) for v in vehicles)
    return round(min(1.0, total / interval_s), 4)


def _occupied_s(v: VehicleRecord, zone_m: float, interval_s: float) -> float:
    if v.speed_kmh <= 0:
        return interval_s  # a stopped vehicle holds the zone
    return min(interval_s, (v.length_m + zone_m) * 3.6 / v.speed_kmh)


def headway_mean(times_ms: Sequence[int]) -> float | None:
    """Mean gap (s) between successive vehicles; None with fewer than 2."""
    if len(times_ms) < 2:
        return None
    return round((max(times_ms) - min(times_ms)) / (len(times_ms) - 1) / 1000, 3)


def pcu_flow(counts: Mapping[str, int], emp: Mapping[str, float], interval_s: float) -> float:
    """Flow in passenger-car units per hour from the counts per class of one interval."""
    return round(math.fsum(n * emp[cls] for cls, n in counts.items()) * 3600 / interval_s, 2)


def degree_of_saturation(flow_pcu_h: float, capacity_pcu_h: float) -> float:
    return round(flow_pcu_h / capacity_pcu_h, 4)


# -- readings of one interval -----------------------------------------------------------------
def interval_readings(
    sensor: str,
    start_ms: int,
    interval_s: float,
    vehicles: Iterable[VehicleRecord],
    dense: Iterable[Pair],
    config: SummaryConfig,
) -> list[Reading]:
    """The readings of one closed interval starting at *start_ms*.

    *dense* are the (lane, direction) pairs that get a ``traffic_flow`` reading even without
    vehicles (zero traffic is data); other pairs get one only when they have vehicles.
    Order: per pair (sorted), its ``traffic_flow`` then its ``traffic`` per class (configured
    order); ``traffic_segment`` last.
    """
    groups: dict[Pair, list[VehicleRecord]] = defaultdict(list)
    all_vehicles = []
    for v in vehicles:
        groups[(v.lane, v.direction)].append(v)
        all_vehicles.append(v)
    out = []
    for pair in sorted(set(dense) | set(groups)):
        lane, direction = pair
        group = groups.get(pair, [])
        tags = {"lane": str(lane), "direction": direction}
        out.append(
            _reading(sensor, "traffic_flow", start_ms, tags, _flow(group, lane, interval_s, config))
        )
        for cls in config.classes:
            speeds = [v.speed_kmh for v in group if v.vehicle_class == cls]
            if speeds:
                fields = {"count": len(speeds), **_speeds(speeds)}
                out.append(
                    _reading(sensor, "traffic", start_ms, {**tags, "vehicle_class": cls}, fields)
                )
    if config.segment_capacity is not None:
        q = pcu_flow(_class_counts(all_vehicles), config.emp, interval_s)
        fields = {
            "count": len(all_vehicles),
            "pcu_flow": q,
            "degree_of_saturation": degree_of_saturation(q, config.segment_capacity),
        }
        out.append(_reading(sensor, "traffic_segment", start_ms, {}, fields))
    return out


def _flow(
    group: list[VehicleRecord], lane: int, interval_s: float, config: SummaryConfig
) -> dict[str, int | float]:
    q = pcu_flow(_class_counts(group), config.emp, interval_s)
    fields: dict[str, int | float] = {
        "count": len(group),
        "pcu_flow": q,
        "occupancy": occupancy(group, config.detection_zone_m, interval_s),
    }
    capacity = config.capacity.get(lane)
    if capacity is not None:
        fields["degree_of_saturation"] = degree_of_saturation(q, capacity)
    if group:
        fields.update(_speeds([v.speed_kmh for v in group]))
    headway = headway_mean([v.time_ms for v in group])
    if headway is not None:
        fields["headway_mean"] = headway
    return fields


def _speeds(speeds: Sequence[float]) -> dict[str, float]:
    return {
        "speed_mean": speed_mean(speeds),
        "speed_p85": float(percentile_nearest_rank(speeds, SPEED_PERCENTILE)),
    }


def _class_counts(vehicles: Iterable[VehicleRecord]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for v in vehicles:
        counts[v.vehicle_class] += 1
    return counts


def _reading(
    sensor: str, measurement: str, start_ms: int, tags: dict[str, str], fields: dict
) -> Reading:
    return Reading(sensor=sensor, measurement=measurement, time=start_ms, fields=fields, tags=tags)
