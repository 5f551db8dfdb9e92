"""Value hooks that make the emulated devices of a site read a scenario (docs/simulators.md §1.6).

Each hook is a pure function of scenario time: the same scenario, site and time give the same
values, whatever the clock does. What each device sees:

- ``env1`` (pm-th-generic): ``pm25``, ``pm10``, ``temperature``, ``humidity``;
- ``th1`` (th-generic): ``temperature``, ``humidity``;
- ``rain1`` (rain-tipping-generic, 0.2 mm a tip): the tip count = seeded start + the rain since
  the scenario's start / 0.2, floored;
- ``wl1`` (level-ultrasonic-generic): ``distance`` = the site's ``water_distance`` with
  ``reference`` = its flood ``gauge_height``; a site without flood settings reads a dry road
  (distance = reference, level 0);
- ``rs1`` (road-surface-generic): ``surface_temperature``, ``water_film``;
- ``wx1`` (weather station): wind, temperature, humidity, pressure, rain intensity, and the
  accumulator ``Rc`` = rain since the scenario's start;
- ``cnt1``: ``Scenario.vehicles`` of the site.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from simulators.devices.weather_station import WeatherState
from simulators.scenario.engine import Scenario

DEFAULT_REFERENCE = 250.0  # cm, the level gauge's mounting height at a site that never floods


@dataclass(frozen=True)
class BusUnit:
    sensor: str
    unit: int
    profile: str


#: The RS-485 line of a full cabinet: every Modbus sensor kind at its own address.
BUS_UNITS: tuple[BusUnit, ...] = (
    BusUnit("env1", 1, "pm-th-generic"),
    BusUnit("th1", 2, "th-generic"),
    BusUnit("rain1", 3, "rain-tipping-generic"),
    BusUnit("wl1", 4, "level-ultrasonic-generic"),
    BusUnit("rs1", 5, "road-surface-generic"),
)

_SIGNALS = {
    "env1": ("pm25", "pm10", "temperature", "humidity"),
    "th1": ("temperature", "humidity"),
    "rs1": ("surface_temperature", "water_film"),
}
RAIN_PER_TIP = 0.2  # mm, rain-tipping-generic


def reference(sc: Scenario | None, site: str) -> float:
    """The level gauge's mounting height at *site* (cm)."""
    if sc is not None and site in sc.sites and sc.sites[site].config.flood is not None:
        return sc.sites[site].config.flood.gauge_height
    return DEFAULT_REFERENCE


def counter_start(seed: int, site: str) -> int:
    return zlib.crc32(f"rain1:{seed}:{site}".encode()) % 60000


def modbus_values(sc: Scenario, site: str, sensor: str) -> Callable[[float], dict[str, float]]:
    """The value hook of Modbus sensor *sensor* of *site* (see the module docstring)."""
    if sensor in _SIGNALS:
        names = _SIGNALS[sensor]

        def pick(t: float) -> dict[str, float]:
            values = sc.values(site, t)
            return {n: values[n] for n in names}

        return pick
    if sensor == "rain1":
        start = counter_start(sc.seed, site)

        def tips(t: float) -> dict[str, float]:
            rain = sc.rain_mm(site, sc.start, max(t, sc.start))
            return {"rain": (start + math.floor(rain / RAIN_PER_TIP + 1e-9)) % 65536}

        return tips
    if sensor == "wl1":
        ref = reference(sc, site)

        def distance(t: float) -> dict[str, float]:
            return {"distance": sc.values(site, t).get("water_distance", ref)}

        return distance
    raise KeyError(f"no scenario values for Modbus sensor {sensor!r}")


def weather_source(sc: Scenario, site: str) -> Callable[[float], WeatherState]:
    def state(t: float) -> WeatherState:
        v = sc.values(site, t)
        return WeatherState(
            wind_direction=v["wind_direction"],
            wind_speed=v["wind_speed"],
            temperature=v["temperature"],
            humidity=v["humidity"],
            pressure=v["pressure"],
            rain_total=sc.rain_mm(site, sc.start, max(t, sc.start)),
            rain_intensity=v["rain_intensity"],
        )

    return state


def vehicle_source(sc: Scenario, site: str):
    return lambda t0, t1: sc.vehicles(site, t0, t1)
