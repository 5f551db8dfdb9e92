"""Weather, air, water and road-surface values of one scenario site. Pure and deterministic.

Everything is a function of (scenario, site, scenario time, seed): noise comes from hashes of
(seed, site, signal, time knot), never from a shared random stream, so any value can be asked
for at any time, in any order, from any thread, with the same answer.

Quantities with memory (recent rain that cools the air, the two water reservoirs behind the
flood, the water film and the lagging surface temperature) are integrated on a fixed 60 s grid
from two days before the scenario starts, one WIB day per chunk; a chunk is recomputed from
the nearest day-start checkpoint when it has left the small cache, so memory stays bounded on
long runs and the numbers never depend on what was asked before. Between grid points values
are interpolated linearly.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from kernel.times import wib_day, wib_hour, wib_midnight
from simulators.scenario.config import ScenarioFile, SiteConfig

DAY = 86400.0
GRID = 60.0  # s
SPIN_UP_DAYS = 2
_CHUNK_CACHE = 6  # days of grid kept per site
_POINTS = int(DAY / GRID)  # grid intervals per day


# -- deterministic noise ------------------------------------------------------------------
@lru_cache(maxsize=65536)
def unit(*parts: object) -> float:
    """A uniform number in [0, 1) determined by *parts* (stable across runs and platforms)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def smooth_noise(key: str, t: float, period: float) -> float:
    """Smooth noise in [-1, 1]: random knots every *period* seconds, cosine-interpolated."""
    k = math.floor(t / period)
    frac = t / period - k
    a, b = unit(key, k) * 2 - 1, unit(key, k + 1) * 2 - 1
    w = (1 - math.cos(math.pi * frac)) / 2
    return a + (b - a) * w


_NIGHT = math.exp(-16.0 / 6.0)


def diurnal(hour: float) -> float:
    """0 at 06:00 (coolest), 1 at 14:00 (hottest): a smooth morning rise, then an evening
    cooling that is quick after sunset and slow before dawn."""
    if 6.0 <= hour < 14.0:
        return 0.5 - 0.5 * math.cos(math.pi * (hour - 6.0) / 8.0)
    since = (hour - 14.0) % 24.0
    return (math.exp(-since / 6.0) - _NIGHT) / (1 - _NIGHT)


def sun(hour: float) -> float:
    """Relative solar heating near the equator: sunrise ~06:05, sunset ~18:20 WIB."""
    return max(0.0, math.sin(math.pi * (hour - 6.1) / 12.2))


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Storm:
    start: float  # unix time
    duration: float  # s
    peak: float  # mm/h

    @property
    def end(self) -> float:
        return self.start + self.duration

    def intensity(self, t: float) -> float:
        """mm/h: a fast convective onset, a longer tail."""
        x = (t - self.start) / self.duration
        if not 0.0 < x < 1.0:
            return 0.0
        return self.peak * math.sin(math.pi * x**0.6) ** 2


@dataclass
class _State:
    wet: float = 0.0  # mm, recent rain (cools the air, raises humidity, washes out PM)
    fast: float = 0.0  # mm, drainage reservoir
    slow: float = 0.0  # mm, river backwater reservoir
    film: float = 0.0  # mm, water film on the road
    surface: float = 27.0  # °C


_FIELDS = ("wet", "fast", "slow", "film", "surface")
WET_TAU = 3 * 3600.0
SURFACE_TAU = 40 * 60.0


class SitePhysics:
    """The physical world at one site of a scenario (see the module docstring)."""

    def __init__(self, scenario: ScenarioFile, site: SiteConfig, seed: int, start: float):
        self.file = scenario
        self.site = site
        self.seed = seed
        self.start = start  # unix time of day 1 00:00 WIB
        self.key = f"{seed}:{site.gateway}"
        self._first_day = wib_day(start) - SPIN_UP_DAYS
        self._checkpoints: dict[int, _State] = {}
        self._chunks: OrderedDict[int, dict[str, list[float]]] = OrderedDict()
        self._lock = threading.Lock()
        haze = scenario.haze
        self.hazy = haze is not None and (haze.sites is None or site.gateway in haze.sites)
        self._events = [
            Storm(start + ev.at, ev.duration, ev.peak)
            for ev in scenario.weather.events
            if ev.sites is None or site.gateway in ev.sites
        ]

    # -- rain ------------------------------------------------------------------------------
    @lru_cache(maxsize=4096)  # noqa: B019 - (site, day) pairs, bounded
    def storms(self, day: int) -> tuple[Storm, ...]:
        """Storms starting on WIB day *day*: the random afternoon storm and scripted events."""
        climate = self.file.weather.storms
        found: list[Storm] = []
        common = random.Random(f"{self.seed}:storm:{day}")
        here = random.Random(f"{self.key}:storm:{day}")
        occurs = common.random() < climate.probability
        onset = common.uniform(*climate.start)
        length = common.uniform(*climate.duration)
        peak = common.uniform(*climate.peak)
        reached = here.random() < climate.coverage
        jitter, scale, stretch = (
            here.uniform(-2400, 2400),
            here.uniform(0.6, 1.3),
            here.uniform(0.8, 1.2),
        )
        if occurs and reached:
            found.append(Storm(wib_midnight(day) + onset + jitter, length * stretch, peak * scale))
        found += [s for s in self._events if wib_day(s.start) == day]
        return tuple(found)

    def _nearby_storms(self, t: float) -> tuple[Storm, ...]:
        d = wib_day(t)
        return self.storms(d - 1) + self.storms(d)

    def rain_intensity(self, t: float) -> float:
        return sum(s.intensity(t) for s in self._nearby_storms(t))

    def rain_mm(self, t0: float, t1: float) -> float:
        """Rain in mm between *t0* and *t1* (Simpson's rule on a <= 60 s grid)."""
        if t1 <= t0:
            return 0.0
        n = max(2, math.ceil((t1 - t0) / GRID))
        n += n % 2
        h = (t1 - t0) / n
        total = self.rain_intensity(t0) + self.rain_intensity(t1)
        for i in range(1, n):
            total += (4 if i % 2 else 2) * self.rain_intensity(t0 + i * h)
        return total * h / 3 / 3600.0

    def cloud(self, t: float) -> float:
        """Cloud cover 0-1: building before a storm, full under it, clearing after."""
        base = 0.12 if self.file.season == "dry" else 0.25
        c = base * (1 + 0.8 * smooth_noise(self.key + ":cloud", t, 5400))
        for s in self._nearby_storms(t):
            if s.start - 5400 <= t < s.start:
                c = max(c, 0.9 * (t - (s.start - 5400)) / 5400)
            elif s.start <= t < s.end:
                c = 1.0
            elif t >= s.end:
                c = max(c, 0.9 * math.exp(-(t - s.end) / 3600))
        if self.hazy:
            c = max(c, 0.35 * self.haze_envelope(t))
        return min(max(c, 0.0), 1.0)

    # -- the integrated grid ---------------------------------------------------------------
    def _grid(self, t: float) -> dict[str, float]:
        t = max(t, wib_midnight(self._first_day))
        day = wib_day(t)
        with self._lock:
            chunk = self._chunk(day)
        pos = (t - wib_midnight(day)) / GRID
        i = min(int(pos), _POINTS - 1)
        frac = pos - i
        return {k: v[i] + (v[i + 1] - v[i]) * frac for k, v in chunk.items()}

    def _chunk(self, day: int) -> dict[str, list[float]]:
        if day in self._chunks:
            self._chunks.move_to_end(day)
            return self._chunks[day]
        if not self._checkpoints:
            first = wib_midnight(self._first_day)
            self._checkpoints[self._first_day] = _State(surface=self.temperature(first, 0.0))
        begin = max(d for d in self._checkpoints if d <= day)
        chunk: dict[str, list[float]] = {}
        for d in range(begin, day + 1):
            chunk = self._chunks.get(d) or self._integrate(d)
            self._chunks[d] = chunk
            self._chunks.move_to_end(d)
            self._checkpoints[d + 1] = _State(**{k: chunk[k][-1] for k in _FIELDS})
            while len(self._chunks) > _CHUNK_CACHE:
                self._chunks.popitem(last=False)
        return chunk

    def _integrate(self, day: int) -> dict[str, list[float]]:
        s = self._checkpoints[day]
        flood = self.site.flood
        e_wet = math.exp(-GRID / WET_TAU)
        e_fast = math.exp(-GRID / flood.fast_tau) if flood else 0.0
        e_slow = math.exp(-GRID / flood.slow_tau) if flood else 0.0
        e_surf = math.exp(-GRID / SURFACE_TAU)
        out: dict[str, list[float]] = {k: [getattr(s, k)] for k in _FIELDS}
        t0 = wib_midnight(day)
        for i in range(_POINTS):
            t = t0 + i * GRID
            r = self.rain_intensity(t + GRID / 2)  # mm/h over this step
            inflow = r / 3600.0  # mm/s
            s.wet = s.wet * e_wet + inflow * WET_TAU * (1 - e_wet)
            if flood:
                s.fast = s.fast * e_fast + inflow * flood.fast_tau * (1 - e_fast)
                s.slow = s.slow * e_slow + inflow * flood.slow_tau * (1 - e_slow)
            t1 = t + GRID
            hour = wib_hour(t1)
            film_target = 0.0 if r < 0.05 else min(3.0, 0.15 + 0.035 * r)
            tau = 300.0 if film_target > s.film else 2400.0 / (1 + 2 * sun(hour))
            s.film = film_target + (s.film - film_target) * math.exp(-GRID / tau)
            air = self.temperature(t1, s.wet)
            cfg = self.site.surface
            target = air + cfg.solar_gain * sun(hour) * (1 - 0.75 * self.cloud(t1))
            target += cfg.night_excess * (1 - sun(hour)) - 4.0 * (1 - math.exp(-s.wet / 5))
            s.surface = target + (s.surface - target) * e_surf
            for k in _FIELDS:
                out[k].append(getattr(s, k))
        return out

    # -- weather ---------------------------------------------------------------------------
    def temperature(self, t: float, wet: float | None = None) -> float:
        if wet is None:
            wet = self._grid(t)["wet"]
        lo, hi = self.file.weather.temperature
        day = wib_day(t)
        tmin = lo + 0.8 * (unit(self.key, "tmin", day) * 2 - 1)
        tmax = hi + 1.0 * (unit(self.key, "tmax", day) * 2 - 1)
        heat = (tmax - tmin) * diurnal(wib_hour(t)) * (1 - 0.45 * self.cloud(t))
        dry = tmin + heat
        rain_air = lo + 0.6  # rain brings the air down to about the wet-bulb temperature
        value = dry - max(dry - rain_air, 0.0) * (1 - math.exp(-wet / 4))
        value += 0.3 * smooth_noise(self.key + ":t", t, 1800)
        return min(max(value, lo - 0.5), hi + 1.0)

    def humidity(self, t: float) -> float:
        wet = self._grid(t)["wet"]
        lo, hi = self.file.weather.humidity
        dryness = diurnal(wib_hour(t)) ** 1.4  # the air saturates soon after sunset
        value = hi - (hi - lo) * dryness * (1 - 0.45 * self.cloud(t))
        value += (99.5 - value) * (1 - math.exp(-wet / 3))
        value += 1.2 * smooth_noise(self.key + ":rh", t, 1800)
        return min(max(value, 35.0), 100.0)

    def pressure(self, t: float) -> float:
        tide = 1.2 * math.cos(2 * math.pi * (wib_hour(t) - 10) / 12)
        drift = 0.9 * smooth_noise(f"{self.seed}:p", t, 1.5 * DAY)
        storm = -1.2 * min(1.0, self.rain_intensity(t) / 30)
        return self.file.weather.pressure + tide + drift + storm

    def wind_speed(self, t: float) -> float:
        breeze = 1.8 * max(0.0, math.sin(math.pi * (wib_hour(t) - 9) / 12))
        gust = 5.5 * (1 - math.exp(-self.rain_intensity(t) / 15))
        value = 0.7 + breeze + gust + 0.5 * smooth_noise(self.key + ":ws", t, 900)
        return min(max(value, 0.0), 25.0)

    def wind_direction(self, t: float) -> float:
        swing = 70 * smooth_noise(self.key + ":wd", t, 3 * 3600)
        return (self.file.weather.wind_direction + swing) % 360

    # -- air -------------------------------------------------------------------------------
    def haze_envelope(self, t: float) -> float:
        """0 outside the haze episode, 1 at its height."""
        haze = self.file.haze
        if not self.hazy or haze is None:
            return 0.0
        x = t - (self.start + haze.start)
        if x <= 0:
            return 0.0
        if x < haze.ramp:
            return smoothstep(x / haze.ramp)
        x -= haze.ramp
        if x < haze.hold:
            return 1.0
        x -= haze.hold
        return 1.0 - smoothstep(x / haze.clear) if haze.clear > 0 else 0.0

    def pm25(self, t: float, traffic_ratio: float = 0.0) -> float:
        """µg/m³; *traffic_ratio* is the site's traffic flow as a share of its peak."""
        air = self.site.air
        hour = wib_hour(t)
        base = air.pm25_base * (1 + 0.35 * math.cos(2 * math.pi * (hour - 7) / 24))
        base += air.traffic_share * air.pm25_base * traffic_ratio
        haze = 0.0
        if self.hazy and self.file.haze is not None:
            e = self.haze_envelope(t)
            haze = e * (self.file.haze.peak_pm25 - air.pm25_base)
            haze *= 1 + 0.15 * math.cos(2 * math.pi * (hour - 5) / 24)
        washout = 1 / (1 + self._grid(t)["wet"] / 6)
        value = (base + haze) * washout * (1 + 0.05 * smooth_noise(self.key + ":pm", t, 2400))
        return max(value, 1.0)

    def pm10(self, t: float, pm25: float) -> float:
        ratio = self.site.air.pm10_ratio
        ratio -= (ratio - 1.15) * self.haze_envelope(t)  # smoke is mostly fine particles
        return pm25 * ratio * (1 + 0.03 * smooth_noise(self.key + ":pm10", t, 1800))

    # -- water and road --------------------------------------------------------------------
    def water_level(self, t: float) -> float | None:
        """cm above the road surface (negative: below), or None without a flood setting."""
        flood = self.site.flood
        if flood is None:
            return None
        g = self._grid(t)
        value = flood.base_level + flood.fast_gain * g["fast"] + flood.slow_gain * g["slow"]
        value += 0.4 * smooth_noise(self.key + ":wl", t, 600)
        return min(value, flood.max_level)

    def water_distance(self, t: float) -> float | None:
        """What the ultrasonic gauge reads: its height above the road minus the level."""
        level = self.water_level(t)
        if level is None or self.site.flood is None:
            return None
        return max(self.site.flood.gauge_height - level, 0.0)

    def surface_temperature(self, t: float) -> float:
        return self._grid(t)["surface"]

    def water_film(self, t: float) -> float:
        return max(self._grid(t)["film"], 0.0)
