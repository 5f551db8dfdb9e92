"""The indicators of one time range, from readings to points. Pure: points in, points out.

Windows are aligned to the Unix epoch, so hours start on UTC hours; a window is identified by
its start, which is the time of its point. Each function returns the points of the windows
whose start lies in [start_ms, end_ms) and that hold readings; it is given the readings it
needs (:func:`reads` says which), so the same readings always give the same points:
recomputing a window rewrites the same points (same measurement, tags and time).

- :func:`ispu_hourly` -> ``jagajalan_ispu_hourly``
- :func:`traffic` -> ``jagajalan_traffic``
- :func:`flood_status` -> ``jagajalan_flood_status``

The arithmetic is :mod:`analytics`'; numpy groups readings into windows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from analytics import flood, ispu
from analytics import traffic as tr
from analytics.los import SPEED_BANDS, LosBands
from indicators.config import IndicatorsConfig
from telemetry.mapping import Point
from telemetry.models import (
    DERIVED_MEASUREMENTS,
    FLOOD_STATUS_MEASUREMENT,
    ISPU_HOURLY_MEASUREMENT,
    TRAFFIC_INDICATOR_MEASUREMENT,
)

ISPU_MEASUREMENT = ISPU_HOURLY_MEASUREMENT
TRAFFIC_MEASUREMENT = TRAFFIC_INDICATOR_MEASUREMENT
FLOOD_MEASUREMENT = FLOOD_STATUS_MEASUREMENT
MEASUREMENTS = DERIVED_MEASUREMENTS

HOUR_MS = 3_600_000
ISPU_PARAMETERS = ("pm25", "pm10")


def floor_ms(t: int, step_ms: int) -> int:
    return t - t % step_ms


def reads(config: IndicatorsConfig, start_ms: int, end_ms: int) -> dict[str, tuple[int, int]]:
    """The readings each indicator of [start_ms, end_ms) needs: measurement -> [from, to)."""
    t_ms = config.traffic.interval_s * 1000
    f_ms = config.flood.interval_s * 1000
    t0, t1 = floor_ms(start_ms, t_ms), floor_ms(end_ms - 1, t_ms) + t_ms
    f1 = floor_ms(end_ms - 1, f_ms) + f_ms
    return {
        "air_quality": (
            floor_ms(start_ms, HOUR_MS) - (config.ispu.averaging_hours - 1) * HOUR_MS,
            floor_ms(end_ms - 1, HOUR_MS) + HOUR_MS,
        ),
        "traffic": (t0, t1),
        "traffic_flow": (t0, t1),
        "vehicle": (t0, t1),
        "water_level": (floor_ms(start_ms, f_ms) - config.flood.warmup_s * 1000, f1),
    }


def _series(points: Iterable[Point], keys: Sequence[str]) -> dict[tuple[str, ...], list[Point]]:
    out: dict[tuple[str, ...], list[Point]] = defaultdict(list)
    for p in points:
        out[tuple(p.tags.get(k, "") for k in keys)].append(p)
    return out


def _window_starts(times: np.ndarray, step_ms: int, start_ms: int, end_ms: int) -> np.ndarray:
    starts = np.unique(times - times % step_ms)
    return starts[(starts >= start_ms) & (starts < end_ms)]


# -- ISPU -------------------------------------------------------------------------------------
def ispu_hourly(
    readings: Iterable[Point], config: IndicatorsConfig, start_ms: int, end_ms: int
) -> list[Point]:
    """Per station (gateway, sensor) per UTC hour with readings: the mean of each parameter
    over the hour and the ``averaging_hours - 1`` before it, its sub-index, the station ISPU
    (the highest), dominant parameter and category."""
    scale, hours = config.ispu.scale(), config.ispu.averaging_hours
    out = []
    for (gateway, sensor), pts in sorted(_series(readings, ("gateway", "sensor")).items()):
        times = np.array([p.time_ms for p in pts], dtype=np.int64)
        order = np.argsort(times, kind="stable")
        times = times[order]
        values = {
            name: np.array([float(p.fields.get(name, math.nan)) for p in pts])[order]
            for name in ISPU_PARAMETERS
        }
        for hour in _window_starts(times, HOUR_MS, start_ms, end_ms):
            lo = np.searchsorted(times, hour - (hours - 1) * HOUR_MS, "left")
            hi = np.searchsorted(times, hour + HOUR_MS, "left")
            means = {}
            for name, v in values.items():
                window = v[lo:hi]
                window = window[~np.isnan(window)]
                if window.size:
                    means[name] = float(np.mean(window))
            if not means:
                continue
            station = scale.station(means)
            fields: dict[str, float | int | str] = {
                "ispu": round(float(station.index), 1),
                "category": station.category.key,
                "category_code": ispu.rank(station.category.key),
                "colour": station.category.colour,
                "dominant": station.parameter,
                "samples": int(hi - lo),
                "averaging_hours": hours,
                "indicative": int(scale.indicative(station.parameter, hours)),
            }
            for name, mean in means.items():
                fields[name] = round(mean, 2)
                fields[f"{name}_index"] = round(float(station.sub_indices[name]), 1)
            tags = {"gateway": gateway, "sensor": sensor}
            out.append(Point(ISPU_MEASUREMENT, tags, fields, int(hour)))
    return out


# -- traffic ----------------------------------------------------------------------------------
def p85(speeds: np.ndarray) -> float:
    """Nearest-rank 85th percentile (as :func:`analytics.traffic.speed_p85`), vectorised."""
    ordered = np.sort(speeds)
    rank = math.ceil(round(85 * ordered.size / 100, 9))
    return float(ordered[rank - 1])


def _bands(config: IndicatorsConfig) -> LosBands:
    letters = ("A", "B", "C", "D", "E")
    bounds = tuple(zip(letters, config.traffic.vc_bands, strict=True))
    return LosBands("V/C (config traffic.vc_bands)", bounds, "lower")


def traffic(
    readings: Iterable[Point],
    flows: Iterable[Point],
    vehicles: Iterable[Point],
    config: IndicatorsConfig,
    start_ms: int,
    end_ms: int,
) -> list[Point]:
    """Per segment (a gateway's counter: gateway, sensor) per interval: vehicles, flow in
    smp/jam (PKJI ekr of the road type at that flow), degree of saturation against the
    site's capacity, LOS from V/C, the count-weighted mean speed with its PM 96/2015
    letter, and the 85th-percentile spot speed from per-vehicle records when the counter
    forwards them. An interval counts as observed when it has `traffic_flow` or `traffic`
    readings (zero vehicles is data)."""
    step = config.traffic.interval_s * 1000
    bands, speed_bands = _bands(config), SPEED_BANDS[config.traffic.area]
    Seg = tuple[str, str]  # (gateway, sensor): one counter, one segment
    counts: dict[Seg, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    speed_sum: dict[tuple[Seg, int], float] = defaultdict(float)
    unclassified: dict[tuple[Seg, int], int] = defaultdict(int)
    for seg, pts in _series(readings, ("gateway", "sensor")).items():
        times = np.array([p.time_ms for p in pts], dtype=np.int64)
        n = [float(p.fields.get("count", 0)) for p in pts]
        speed = [float(p.fields.get("speed_mean", 0.0)) for p in pts]
        window = (times - times % step).tolist()
        for i, p in enumerate(pts):
            w = window[i]
            try:
                cls = tr.class_key(p.tags.get("vehicle_class", ""))
            except ValueError:
                unclassified[seg, w] += int(n[i])
                continue
            per = counts[seg][w]
            per[cls] = per.get(cls, 0.0) + n[i]
            speed_sum[seg, w] += n[i] * speed[i]
    for seg, pts in _series(flows, ("gateway", "sensor")).items():
        for p in pts:
            counts[seg].setdefault(p.time_ms - p.time_ms % step, {})
    spot: dict[tuple[Seg, int], list[float]] = defaultdict(list)
    for seg, pts in _series(vehicles, ("gateway", "sensor")).items():
        for p in pts:
            if "speed" in p.fields:
                spot[seg, p.time_ms - p.time_ms % step].append(float(p.fields["speed"]))
    out = []
    for seg in sorted(counts):
        gateway = seg[0]
        site = config.site(gateway)
        road = site.road_type or config.traffic.road_type
        width = site.width_m or config.traffic.width_m
        capacity = config.capacity(gateway)
        for w in sorted(counts[seg]):
            if not start_ms <= w < end_ms:
                continue
            per = counts[seg][w]
            total = math.fsum(per.values())
            veh_h = total * 3600.0 / config.traffic.interval_s
            if tr.EKR_URBAN[road].flow_basis == "direction":
                veh_h /= 2  # the table's flow is per direction; the counter sees both
            flow = tr.flow_skr(per, tr.ekr(road, veh_h, width), config.traffic.interval_s)
            dj = tr.degree_of_saturation(flow, capacity)
            fields: dict[str, float | int | str] = {
                "vehicles": round(total),
                "flow_smp": round(flow, 1),
                "capacity": round(capacity, 1),
                "degree_of_saturation": round(dj, 4),
                "los": bands.letter(dj),
                "unclassified": unclassified.get((seg, w), 0),
            }
            if total > 0:
                mean = speed_sum[seg, w] / total
                fields["speed_mean"] = round(mean, 2)
                fields["los_speed"] = speed_bands.letter(mean)
            if spot.get((seg, w)):
                fields["speed_p85"] = round(p85(np.array(spot[seg, w])), 1)
            tags = {"gateway": gateway, "sensor": seg[1]}
            out.append(Point(TRAFFIC_MEASUREMENT, tags, fields, w))
    return out


# -- flood ------------------------------------------------------------------------------------
class _Comparators:
    """Every sample's level on a ladder with hysteresis, for any replay start, at once.

    :func:`analytics.flood.update` (no dwell) treats each threshold as a comparator: a sample
    >= threshold raises it, one < threshold - hysteresis clears it, one in between leaves it.
    So after sample i, replayed from sample lo on a normal start, a comparator is raised iff
    its last raising-or-clearing sample at or before i is at or after lo and raised it; the
    level is the highest raised comparator. numpy finds each sample's last such event once
    (a running maximum of indices), so a window costs a few array lookups, not a replay."""

    def __init__(self, ladder: flood.Ladder, values: np.ndarray) -> None:
        if ladder.raise_dwell_s or ladder.clear_dwell_s:
            raise ValueError("flood status: ladders with dwell times are not supported")
        thresholds = np.array([step.threshold for step in ladder.steps])
        up = values[:, None] >= thresholds[None, :]
        down = values[:, None] < thresholds[None, :] - ladder.hysteresis
        index = np.arange(values.size)[:, None]
        self.last = np.maximum.accumulate(np.where(up | down, index, -1), axis=0)
        self.raised = np.take_along_axis(up, np.maximum(self.last, 0), axis=0)
        self.size = thresholds.size

    def levels(self, lo: int, first: int, hi: int) -> np.ndarray:
        """Levels after samples first-1 .. hi-1, replayed from sample lo (first-1 < lo: the
        normal start)."""
        rows = np.arange(first - 1, hi)
        active = (self.last[np.maximum(rows, 0)] >= lo) & self.raised[np.maximum(rows, 0)]
        active[rows < lo] = False
        highest = self.size - np.argmax(active[:, ::-1], axis=1)
        return np.where(active.any(axis=1), highest, 0)


def flood_status(
    readings: Iterable[Point], config: IndicatorsConfig, start_ms: int, end_ms: int
) -> list[Point]:
    """Per site (gateway, sensor) per interval with `level` readings: the level reached at the
    interval's end on the site's ladder, with hysteresis. The state is not carried between
    runs: each interval is the replay of the readings of the ``warmup_s`` before its end from a
    normal start (:func:`analytics.flood.track`'s result, computed by :class:`_Comparators`),
    so the status is a function of the readings alone and a backfill in any order, or a
    rerun, writes the same points."""
    step, warm = config.flood.interval_s * 1000, config.flood.warmup_s * 1000
    out = []
    for (gateway, sensor), pts in sorted(_series(readings, ("gateway", "sensor")).items()):
        pts = sorted((p for p in pts if "level" in p.fields), key=lambda p: p.time_ms)
        if not pts:
            continue
        ladder = config.ladder(gateway)
        times = np.array([p.time_ms for p in pts], dtype=np.int64)
        levels = np.array([float(p.fields["level"]) for p in pts])
        comparators = _Comparators(ladder, levels)
        for w in _window_starts(times, step, start_ms, end_ms):
            lo = int(np.searchsorted(times, w + step - warm, "left"))
            first = int(np.searchsorted(times, w, "left"))
            hi = int(np.searchsorted(times, w + step, "left"))
            series = comparators.levels(lo, first, hi)  # before the window, then each sample
            level = int(series[-1])
            fields: dict[str, float | int | str] = {
                "level": ladder.keys[level],
                "level_code": level,
                "water_level": round(float(levels[hi - 1]), 2),
                "water_level_max": round(float(np.max(levels[first:hi])), 2),
                "transitions": int(np.count_nonzero(np.diff(series))),
            }
            tags = {"gateway": gateway, "sensor": sensor}
            out.append(Point(FLOOD_MEASUREMENT, tags, fields, int(w)))
    return out
