"""Seeded, plausible values for emulated Modbus sensors in Sarolangun, Jambi (tropical lowland).

:class:`RegisterPattern` gives, for step *k* of a seed, the physical values of every field of a
profile and the raw registers holding them. It depends only on (profile, seed, step, params),
never on the wall clock, so runs are reproducible. What each kind of field does:

- ``pm25`` 10-60 ug/m3 drifting slowly, ``pm10`` about 1.4 x PM2.5;
- ``temperature`` 23-34 degC with the day, ``humidity`` 60-100 %RH falling as it warms;
- rain counters (``kind = "counter"``) count bucket tips in bursts: hour by hour a seeded
  shower decides whether it rains (more often 13:00-19:00 WIB, the convective afternoons) and
  how hard (2-60 mm/h); the count starts at a seeded value anywhere below the rollover;
- ``distance``/``level``: water on the road rises and falls in flood waves (0-35 cm, dry about
  half of the time), ``distance = reference - level`` with the device's ``reference`` param;
- ``surface_temperature`` follows the sun (about 26 degC at night, up to 50 in the early
  afternoon), ``water_film`` is wet while it rains;
- any other field: a slow wave inside :data:`RANGES` or a modest raw range.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from simulators.devices.register_maps import RegisterMap, load_register_map
from simulators.devices.wire.registers import RegisterField

#: Virtual start of every simulated day: 2025-12-01 00:00 WIB (17:00 UTC the day before).
VIRTUAL_EPOCH = 1_764_522_000
WIB = 7 * 3600
DEFAULT_REFERENCE = 250.0  # cm, a level gauge's mounting height when no param is given

#: Plausible ranges of other documented fields.
RANGES: dict[str, tuple[float, float]] = {
    "pressure": (1005.0, 1013.0),
    "rain": (0.0, 4.0),
    "wind_speed": (0.0, 6.0),
    "wind_direction": (0.0, 359.0),
    "level": (0.0, 40.0),
    "distance": (150.0, 300.0),
    "surface_temperature": (24.0, 52.0),
    "water_film": (0.0, 2.0),
    "count": (0.0, 40.0),
    "speed_mean": (20.0, 60.0),
}


class RegisterPattern:
    """Seeded, deterministic physical values and raw registers for a profile (a
    :class:`RegisterMap`, or a profile name or path), by step."""

    def __init__(
        self,
        profile: RegisterMap | str,
        seed: int = 0,
        step_seconds: float = 1.0,
        params: Mapping[str, float] | None = None,
        counter_start: int | None = None,
    ) -> None:
        self.register_map = (
            profile if isinstance(profile, RegisterMap) else load_register_map(profile)
        )
        self.seed = seed
        self.step_seconds = step_seconds
        self.params = dict(params or {})
        setup = random.Random(f"modbus-pattern:{seed}")
        self.start = VIRTUAL_EPOCH + setup.randrange(24) * 3600  # virtual hour of step 0
        self.phases = {f.name: setup.uniform(0, 2 * math.pi) for f in self.register_map.fields}
        self.pm_phase = (setup.uniform(0, 2 * math.pi), setup.uniform(0, 2 * math.pi))
        self.flood_phase = setup.uniform(0, 2 * math.pi)
        self.counters = [f for f in self.register_map.fields if f.counter]
        self.counter_start = {
            f.name: (counter_start if counter_start is not None else setup.randrange(f.modulus))
            for f in self.counters
        }
        self._tips: list[int] = [0]  # counts added up to step k (the same for every counter)

    def virtual_time(self, step: int) -> float:
        return self.start + step * self.step_seconds

    # -- weather --------------------------------------------------------------------------
    def shower(self, t: float) -> float:
        """Rain intensity in mm/h at virtual time *t* (0 when dry): one draw per hour."""
        hour = int(t // 3600)
        rng = random.Random(f"modbus-rain:{self.seed}:{hour}")
        local = ((hour * 3600 + WIB) % 86400) // 3600
        chance = 0.55 if 13 <= local < 19 else 0.12
        raining = rng.random() < chance
        intensity = rng.uniform(2.0, 60.0)
        return intensity if raining else 0.0

    def added(self, step: int) -> int:
        """Counts added between step 0 and *step* (bursts while it rains)."""
        scale = self.counters[0].scale if self.counters else 0.2
        while len(self._tips) <= step:
            k = len(self._tips)
            rate = self.shower(self.virtual_time(k)) / scale / 3600  # counts per second
            rng = random.Random(f"modbus-tips:{self.seed}:{k}")
            self._tips.append(self._tips[-1] + _poisson(rng, rate * self.step_seconds))
        return self._tips[step]

    # -- values ---------------------------------------------------------------------------
    def values(self, step: int) -> dict[str, float]:
        """Physical values at *step* (before quantisation to registers); counters: the
        raw count."""
        t = self.virtual_time(step)
        rng = random.Random(f"modbus-step:{self.seed}:{step}")
        hour = ((t + WIB) % 86400) / 3600
        day = math.cos(2 * math.pi * (hour - 14) / 24)  # 1 at 14:00 WIB, -1 at 02:00
        a, b = self.pm_phase
        pm25 = 35 + 15 * math.sin(2 * math.pi * t / 14_400 + a)
        pm25 += 5 * math.sin(2 * math.pi * t / 2_820 + b) + rng.gauss(0, 0.8)
        pm25 = _clamp(pm25, 10, 60)
        known = {
            "pm25": pm25,
            "pm10": _clamp(pm25 * 1.4 + rng.gauss(0, 1.5), 12, 90),
            "temperature": _clamp(28.5 + 5.5 * day + rng.gauss(0, 0.15), 23, 34),
            "humidity": _clamp(80 - 20 * day + rng.gauss(0, 0.6), 60, 100),
        }
        sun = max(0.0, math.sin(math.pi * (hour - 7.5) / 12))  # peaks at 13:30 WIB
        known["surface_temperature"] = _clamp(26 + 24 * sun**1.3 + rng.gauss(0, 0.2), 22, 52)
        rain = self.shower(t)
        known["water_film"] = _clamp(rain / 30 + rng.gauss(0, 0.02), 0, 2) if rain else 0.0
        wave = math.sin(2 * math.pi * t / 21_600 + self.flood_phase)
        level = 35 * max(0.0, wave) ** 1.5
        reference = self.params.get("reference", DEFAULT_REFERENCE)
        known["level"] = level
        known["distance"] = max(30.0, reference - level + rng.gauss(0, 0.3))
        out: dict[str, float] = {}
        for f in self.register_map.fields:
            if f.counter:
                out[f.name] = (self.counter_start[f.name] + self.added(step)) % f.modulus
            elif f.name in known:
                out[f.name] = known[f.name]
            else:
                lo, hi = RANGES.get(f.name) or _sane_range(f)
                wave = math.sin(2 * math.pi * t / 3_600 + self.phases[f.name])
                out[f.name] = lo + (hi - lo) * (0.5 + 0.45 * wave + rng.uniform(-0.02, 0.02))
        return out

    def registers(self, step: int) -> dict[int, int]:
        """Raw registers by address at *step*, with the model register of ``[identify]``."""
        return self.encode(self.values(step))

    def encode(self, values: Mapping[str, float]) -> dict[int, int]:
        """Raw registers holding physical *values* (by field name; counters: the raw count,
        wrapped at the rollover). A field missing from *values* reads 0."""
        return self.register_map.encode(values).registers


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation, plenty for a simulator
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def _sane_range(field: RegisterField) -> tuple[float, float]:
    """A modest physical range for a field nobody described: small raw values."""
    raw_lo, raw_hi = (-500, 500) if field.type in ("int16", "int32") else (0, 1000)
    lo, hi = (raw * field.scale + field.offset for raw in (raw_lo, raw_hi))
    return min(lo, hi), max(lo, hi)
