"""The scenario engine: seeded, deterministic Sarolangun days, on an accelerated clock.

A scenario file (``simulators/scenarios/<name>.toml``, format in docs/simulators.md) names
sites, a weather regime and scripted events. From it the engine answers, for any site and any
scenario time ``t`` (unix seconds, UTC), pure functions of (scenario, site, t, seed)::

    sc = Scenario.load("rainy_season_flood")          # or a path; seed=/start= override
    clock = sc.clock()                                 # ScenarioClock at the file's speed
    t = clock.now()                                    # scenario time now
    sc.value("srl-pasar-01", "water_level", t)         # one signal (scenario_levels.SIGNALS)
    sc.values("srl-pasar-01", t)                       # every signal of the site
    sc.vehicles("srl-pasar-01", t0, t1)                # per-vehicle arrivals in [t0, t1)
    sc.traffic("srl-pasar-01", t)                      # expected flows, DS, LOS, speeds
    sc.rain_mm("srl-pasar-01", t0, t1)                 # rain accumulated in [t0, t1)
    sc.readings("srl-pasar-01", t, interval=60)        # device-shaped fields (protocol 2.1)

Device emulators take a Scenario, a site id and a ScenarioClock, and ask for values at
``clock.now()``; :class:`simulators.scenario.run.ScenarioRunner` samples a scenario on its
clock and writes the ground truth.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kernel.times import wib_day
from simulators import sites as known_sites
from simulators.scenario.config import (
    ScenarioFile,
    SiteConfig,
    load_scenario_file,
    parse_daytime,
    start_epoch,
)
from simulators.scenario.levels import Level, resolve_level
from simulators.scenario.physics import SitePhysics
from simulators.scenario.traffic import SiteTraffic, TrafficState, Vehicle

__all__ = ["Scenario", "ScenarioClock", "ScenarioSite", "SensorValues", "TrafficState", "Vehicle"]


class ScenarioClock:
    """Real time to scenario time: ``scenario = origin + (real - real_origin) * speed``.

    *speed* 1440 runs a day in a minute. *clock* is the real clock (``time.time``; tests may
    pass their own). The clock starts when it is made, unless *real_origin* is given.
    """

    def __init__(
        self,
        origin: float,
        speed: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        real_origin: float | None = None,
    ) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"clock speed must be a positive number, got {speed!r}")
        self.origin = origin
        self.speed = speed
        self._clock = clock
        self.real_origin = clock() if real_origin is None else real_origin

    def now(self) -> float:
        return self.scenario_time(self._clock())

    def scenario_time(self, real: float) -> float:
        return self.origin + (real - self.real_origin) * self.speed

    def real_time(self, t: float) -> float:
        return self.real_origin + (t - self.origin) / self.speed

    def wait_until(self, t: float, stop: threading.Event | None = None) -> bool:
        """Sleep until scenario time *t*; False if *stop* was set first."""
        while True:
            delay = self.real_time(t) - self._clock()
            if delay <= 0:
                return True
            if stop is not None:
                if stop.wait(min(delay, 1.0)):
                    return False
            else:
                time.sleep(min(delay, 1.0))


@dataclass(frozen=True)
class ScenarioSite:
    gateway: str
    name: str
    kecamatan: str
    latitude: float
    longitude: float
    config: SiteConfig


@dataclass(frozen=True)
class SensorValues:
    """What one sensor of a site reports: a reading without its time and gateway."""

    sensor: str
    measurement: str
    fields: dict[str, float | int]
    tags: dict[str, str]


#: Sensor ids of a scenario site's devices, by measurement.
SENSORS = {
    "air_quality": "env1",
    "weather": "wx1",
    "water_level": "wl1",
    "road_surface": "rs1",
    "traffic": "cnt1",
}


class Scenario:
    def __init__(
        self,
        file: ScenarioFile,
        *,
        path: Path | None = None,
        seed: int | None = None,
        start: float | None = None,
    ) -> None:
        self.file = file
        self.path = path
        self.name = file.name
        self.description = file.description
        self.descriptions = {"en": file.description, "id": file.description_id}
        self.seed = file.seed if seed is None else seed
        #: Unix time of day 1, 00:00 WIB (the file's date unless re-anchored with *start*).
        self.start = start_epoch(file.start) if start is None else start
        self.duration = file.duration
        self.end = self.start + file.duration
        self.speed = file.speed
        self.step = file.step
        self.sites: dict[str, ScenarioSite] = {s.gateway: _site(s) for s in file.sites}
        self._physics: dict[str, SitePhysics] = {}
        self._traffic: dict[str, SiteTraffic] = {}
        for s in file.sites:
            self._physics[s.gateway] = SitePhysics(file, s, self.seed, self.start)
            key = f"{self.seed}:{s.gateway}"
            self._traffic[s.gateway] = SiteTraffic(s.traffic, key, s.flood)

    @classmethod
    def load(
        cls, name_or_path: str | Path, *, seed: int | None = None, start: float | None = None
    ) -> Scenario:
        """A shipped scenario by name or a file by path. Raises ConfigError naming problems."""
        file, path = load_scenario_file(name_or_path)
        return cls(file, path=path, seed=seed, start=start)

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, seed={self.seed})"

    # -- time ------------------------------------------------------------------------------
    def at(self, text: str) -> float:
        """``"day1 14:30"`` (WIB) as a scenario time (unix seconds)."""
        return self.start + parse_daytime(text)

    def clock(
        self,
        speed: float | None = None,
        *,
        origin: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> ScenarioClock:
        """A clock starting now at *origin* (default: the scenario's start)."""
        return ScenarioClock(
            self.start if origin is None else origin, speed or self.speed, clock=clock
        )

    # -- values ----------------------------------------------------------------------------
    def _site(self, site: str) -> str:
        if site not in self.sites:
            known = list(self.sites)
            raise KeyError(f"scenario {self.name!r} has no site {site!r}; sites: {known}")
        return site

    def traffic(self, site: str, t: float) -> TrafficState:
        phys = self._physics[self._site(site)]
        return self._traffic[site].state(t, phys.rain_intensity(t), phys.water_level(t))

    def vehicles(self, site: str, t0: float, t1: float) -> list[Vehicle]:
        return self._traffic[self._site(site)].vehicles(t0, t1, lambda t: self.traffic(site, t))

    def rain_mm(self, site: str, t0: float, t1: float) -> float:
        return self._physics[self._site(site)].rain_mm(t0, t1)

    def values(self, site: str, t: float) -> dict[str, float]:
        """Every signal of *site* at *t* (water signals only at sites with a flood setting)."""
        return self._values(site, t)[0]

    def _values(self, site: str, t: float) -> tuple[dict[str, float], TrafficState]:
        phys = self._physics[self._site(site)]
        tr = self.traffic(site, t)
        peak = self.sites[site].config.traffic.peak_volume
        pm25 = phys.pm25(t, tr.flow / peak if peak > 0 else 0.0)
        out = {
            "temperature": phys.temperature(t),
            "humidity": phys.humidity(t),
            "pressure": phys.pressure(t),
            "rain_intensity": phys.rain_intensity(t),
            "wind_speed": phys.wind_speed(t),
            "wind_direction": phys.wind_direction(t),
            "pm25": pm25,
            "pm10": phys.pm10(t, pm25),
            "surface_temperature": phys.surface_temperature(t),
            "water_film": phys.water_film(t),
            "traffic_demand": tr.demand,
            "traffic_flow": tr.flow,
            "traffic_smp": tr.smp,
            "degree_of_saturation": tr.ds,
            "traffic_speed": tr.speed,
        }
        level = phys.water_level(t)
        if level is not None:
            out["water_level"] = level
            out["water_distance"] = phys.water_distance(t) or 0.0
        return out, tr

    def value(self, site: str, signal: str, t: float) -> float:
        values = self.values(site, t)
        if signal not in values:
            raise KeyError(
                f"signal {signal!r} does not exist at {site!r}; signals: {sorted(values)}"
            )
        return values[signal]

    def level(self, site: str, signal: str, crosses: str | float) -> Level:
        return resolve_level(signal, self.sites[self._site(site)].config, crosses)

    # -- what devices report ---------------------------------------------------------------
    def readings(self, site: str, t: float, interval: float = 60.0) -> list[SensorValues]:
        """Device-shaped values at *t* (docs/protocol.md 2.1): rain and traffic counts cover
        the *interval* seconds before *t*; counts are seeded Poisson draws around the
        expected flow (cheap, for fleets), not :meth:`vehicles`."""
        v, tr = self._values(site, t)
        out = [
            SensorValues(
                SENSORS["air_quality"],
                "air_quality",
                {
                    "pm25": round(v["pm25"], 1),
                    "pm10": round(v["pm10"], 1),
                    "temperature": round(v["temperature"], 1),
                    "humidity": round(v["humidity"], 1),
                },
                {},
            ),
            SensorValues(
                SENSORS["weather"],
                "weather",
                {
                    "temperature": round(v["temperature"], 1),
                    "humidity": round(v["humidity"], 1),
                    "pressure": round(v["pressure"], 1),
                    "rain": round(self.rain_mm(site, t - interval, t), 2),
                    "wind_speed": round(v["wind_speed"], 1),
                    "wind_direction": float(round(v["wind_direction"])),
                },
                {},
            ),
        ]
        if "water_level" in v:
            water = {"level": round(v["water_level"], 1), "distance": round(v["water_distance"], 1)}
            out.append(SensorValues(SENSORS["water_level"], "water_level", water, {}))
        surface = {
            "surface_temperature": round(v["surface_temperature"], 1),
            "water_film": round(v["water_film"], 2),
        }
        out.append(SensorValues(SENSORS["road_surface"], "road_surface", surface, {}))
        for lane, share in tr.lane_share.items():
            rng = random.Random(f"{self.seed}:{site}:count:{lane}:{round(t * 1000)}")
            count = _poisson(rng, tr.flow * share * interval / 3600.0)
            fields: dict[str, float | int] = {"count": count}
            if count > 0:
                fields["speed_mean"] = round(tr.speed, 1)
            out.append(SensorValues(SENSORS["traffic"], "traffic", fields, {"lane": str(lane)}))
        return out

    def day_of(self, t: float) -> int:
        """Scenario day number (1 = the first day) of *t*."""
        return wib_day(t) - wib_day(self.start) + 1


def _site(cfg: SiteConfig) -> ScenarioSite:
    try:
        known = known_sites.site(cfg.gateway)
    except KeyError:
        known = None

    def pick(key: str):
        value = getattr(cfg, key)
        return value if value is not None else getattr(known, key)

    return ScenarioSite(
        cfg.gateway,
        pick("name"),
        pick("kecamatan"),
        pick("latitude"),
        pick("longitude"),
        cfg,
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
