"""Traffic at one scenario site: expected flows and the per-vehicle arrival stream. Pure.

Demand follows a 24-hour profile per road type (market town, the Lintas Sumatera arterial,
rural roads), weekday or weekend, scaled to the site's weekday peak-hour volume. Classes and
passenger-car units follow Indonesian practice (../shared/DOMAIN.md: SM, KR, KS, BB, TB;
emp SM 0.4 on 2/2 undivided roads, 0.25 otherwise; KR 1.0; KS/BB/TB 1.3 — MKJI 1997, verify).
The degree of saturation is demand (smp/h) over capacity; speed falls with it as
``free_speed / (1 + a * DS^b)``; above capacity only the capacity is served (a queue forms).
Heavy rain sends motorcycles to shelter, and water on the road stops small vehicles first.

Vehicles arrive as a Poisson stream whose rate is the expected flow, constant within each
60 s bucket of scenario time; each bucket has its own seeded generator, so
``vehicles(t0, t1)`` is the same list however the interval is cut.
"""

from __future__ import annotations

import math
import random
import threading
import tomllib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from analytics.los import los_by_vc
from kernel.times import wib_day, wib_hour
from simulators.scenario.config import CLASSES, Flood, Traffic
from simulators.scenario.physics import smooth_noise, unit

BUCKET = 60.0  # s

#: Share of the weekday peak hour per hour of the day (WIB), per road kind and day type: data
#: in traffic_profiles.toml.
PROFILES: dict[str, dict[str, tuple[float, ...]]] = {
    kind: {day: tuple(values) for day, values in days.items()}
    for kind, days in tomllib.loads(
        (Path(__file__).with_name("traffic_profiles.toml")).read_text(encoding="utf-8")
    ).items()
}
CLASS_MIX: dict[str, dict[str, float]] = {
    "town": {"SM": 0.74, "KR": 0.19, "KS": 0.04, "BB": 0.01, "TB": 0.02},
    "arterial": {"SM": 0.55, "KR": 0.25, "KS": 0.09, "BB": 0.04, "TB": 0.07},
    "rural": {"SM": 0.80, "KR": 0.14, "KS": 0.04, "BB": 0.005, "TB": 0.015},
}
#: 22:00-05:00 on the arterial: the trucks' hours.
NIGHT_MIX_ARTERIAL = {"SM": 0.30, "KR": 0.25, "KS": 0.15, "BB": 0.08, "TB": 0.22}
FREE_SPEED: dict[str, dict[str, float]] = {  # km/h
    "town": {"SM": 38.0, "KR": 42.0, "KS": 35.0, "BB": 35.0, "TB": 32.0},
    "arterial": {"SM": 55.0, "KR": 65.0, "KS": 50.0, "BB": 55.0, "TB": 45.0},
    "rural": {"SM": 50.0, "KR": 55.0, "KS": 45.0, "BB": 45.0, "TB": 40.0},
}
EMP: dict[str, dict[str, float]] = {
    "2/2UD": {"SM": 0.4, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3},
    "4/2D": {"SM": 0.25, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3},
}
LENGTH_M: dict[str, tuple[float, float]] = {
    "SM": (1.7, 2.1),
    "KR": (3.8, 5.2),
    "KS": (6.0, 8.5),
    "BB": (11.0, 12.5),
    "TB": (8.0, 12.0),
}
SPEED_SPREAD = 0.12  # standard deviation of spot speeds, share of the class mean


@dataclass(frozen=True)
class Vehicle:
    time: float  # scenario time, unix seconds (UTC), millisecond resolution
    lane: int
    direction: str  # odd lanes N, even lanes S (as the emulated counter)
    vehicle_class: str
    speed: float  # km/h, 0.1
    length: float  # m, 0.1


@dataclass(frozen=True)
class TrafficState:
    demand: float  # veh/h wanting to pass, both directions
    flow: float  # veh/h passing (demand, capped at capacity)
    smp: float  # smp/h passing
    ds: float  # degree of saturation of the demand
    los: str  # level of service letter
    speed: float  # km/h, flow-weighted mean of the classes
    class_flow: dict[str, float]  # veh/h passing, per class
    class_speed: dict[str, float]  # km/h, per class
    lane_share: dict[int, float]


def weekday(t: float) -> int:
    """Monday = 0 ... Sunday = 6, of the WIB date (1970-01-01 was a Thursday)."""
    return (wib_day(t) + 3) % 7


def profile_factor(profile: str, t: float) -> float:
    kind = "weekend" if weekday(t) >= 5 else "weekday"
    values = PROFILES[profile][kind]
    x = wib_hour(t) - 0.5
    i = math.floor(x)
    frac = x - i
    a, b = values[i % 24], values[(i + 1) % 24]
    return a + (b - a) * (1 - math.cos(math.pi * frac)) / 2


class SiteTraffic:
    def __init__(self, cfg: Traffic, key: str, flood: Flood | None) -> None:
        self.cfg = cfg
        self.key = key
        self.mix = cfg.class_mix or CLASS_MIX[cfg.profile]
        self.free = {**FREE_SPEED[cfg.profile], **(cfg.free_speed or {})}
        self.emp = {**EMP[cfg.road_type], **(cfg.emp or {})}
        levels = sorted(flood.levels.values()) if flood else []
        self.wet_road, self.risky, self.closed = (levels + [math.inf] * 3)[:3]
        self._buckets: OrderedDict[int, list[Vehicle]] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, t: float, rain: float = 0.0, water: float | None = None) -> TrafficState:
        """Expected traffic at *t*, given the rain intensity (mm/h) and water level (cm)."""
        cfg = self.cfg
        hour = wib_hour(t)
        day_var = 1 + 0.06 * (unit(self.key, "volume", wib_day(t)) * 2 - 1)
        wobble = 1 + 0.04 * smooth_noise(self.key + ":volume", t, 1200)
        demand_total = cfg.peak_volume * profile_factor(cfg.profile, t) * day_var * wobble
        mix = self.mix
        if cfg.class_mix is None and cfg.profile == "arterial" and (hour >= 22 or hour < 5):
            mix = NIGHT_MIX_ARTERIAL
        factor = {c: 1.0 for c in CLASSES}
        factor["SM"] /= 1 + rain / 12  # riders wait under the shop roofs
        speed_factor = 1 - 0.15 * min(1.0, rain / 30)
        level = -math.inf if water is None else water
        if level >= self.closed:
            factor["SM"] *= 0.02
            factor["KR"] *= 0.15
        elif level >= self.risky:
            factor["SM"] *= 0.3
            factor["KR"] *= 0.7
        if level >= self.wet_road:
            speed_factor *= 0.5
        demand = {c: demand_total * mix.get(c, 0.0) * factor[c] for c in CLASSES}
        demand_smp = sum(demand[c] * self.emp[c] for c in CLASSES)
        ds = demand_smp / cfg.capacity
        served = min(1.0, cfg.capacity / demand_smp) if demand_smp > 0 else 1.0
        flows = {c: demand[c] * served for c in CLASSES}
        a, b = cfg.congestion
        congestion = 1 / (1 + a * ds**b)
        speeds = {c: self.free[c] * congestion * speed_factor for c in CLASSES}
        flow = sum(flows.values())
        mean_speed = sum(flows[c] * speeds[c] for c in CLASSES) / flow if flow > 0 else 0.0
        return TrafficState(
            demand=sum(demand.values()),
            flow=flow,
            smp=demand_smp * served,
            ds=ds,
            los=los_by_vc(ds),
            speed=mean_speed if flow > 0 else speeds["KR"],
            class_flow=flows,
            class_speed=speeds,
            lane_share=self.lane_share(hour),
        )

    def lane_share(self, hour: float) -> dict[int, float]:
        """Odd lanes carry a little more towards town in the morning, even lanes at evening."""
        am = math.exp(-(((hour - 7) / 1.5) ** 2))
        pm = math.exp(-(((hour - 17) / 1.5) ** 2))
        tide = self.cfg.tidal * (am - pm)
        weights = {lane: 1 + (tide if lane % 2 else -tide) for lane in self.cfg.lanes}
        total = sum(weights.values())
        return {lane: w / total for lane, w in weights.items()}

    def vehicles(self, t0: float, t1: float, state_at) -> list[Vehicle]:
        """Every vehicle passing in [t0, t1), in time order. *state_at(t)* gives the
        TrafficState at a time (the Scenario passes one that knows rain and water)."""
        out: list[Vehicle] = []
        for b in range(math.floor(t0 / BUCKET), math.ceil(t1 / BUCKET)):
            out.extend(v for v in self._bucket(b, state_at) if t0 <= v.time < t1)
        return out

    def _bucket(self, b: int, state_at) -> list[Vehicle]:
        with self._lock:
            cached = self._buckets.get(b)
        if cached is not None:
            return cached
        begin = b * BUCKET
        st = state_at(begin + BUCKET / 2)
        rng = random.Random(f"{self.key}:vehicles:{b}")
        classes = [c for c in CLASSES if st.class_flow[c] > 0]
        weights = [st.class_flow[c] for c in classes]
        found: list[Vehicle] = []
        for lane in self.cfg.lanes:
            rate = st.flow * st.lane_share[lane] / 3600.0
            t = begin
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= begin + BUCKET:
                    break
                cls = rng.choices(classes, weights)[0]
                mean = st.class_speed[cls]
                speed = min(max(rng.gauss(mean, SPEED_SPREAD * mean), 3.0), 130.0)
                found.append(
                    Vehicle(
                        time=round(t, 3),
                        lane=lane,
                        direction="N" if lane % 2 else "S",
                        vehicle_class=cls,
                        speed=round(speed, 1),
                        length=round(rng.uniform(*LENGTH_M[cls]), 1),
                    )
                )
        found.sort(key=lambda v: (v.time, v.lane))
        with self._lock:
            self._buckets[b] = found
            while len(self._buckets) > 256:
                self._buckets.popitem(last=False)
        return found
