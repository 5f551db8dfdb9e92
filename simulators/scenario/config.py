"""The scenario file format (``simulators/scenarios/*.toml``): pydantic models and the loader.

A scenario is data: when it starts, how fast its clock runs, the weather regime, scripted
events (storms, a haze episode), the sites with their road, flood and air settings, and the
threshold crossings the scenario is expected to produce (``[[expect]]``). Times inside a
scenario are written for people, in WIB: ``"day1 14:30"`` is 14:30 WIB on the scenario's first
day; durations are ``"90m"``, ``"1h30m"``, ``"2d"`` (or plain seconds). Every problem in a
file is reported at once, naming file, key and value (:class:`kernel.config.ConfigError`).
See docs/simulators.md for the format.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from kernel.config import ConfigError, validate
from kernel.schema import Allowed
from kernel.text import T, Text
from kernel.times import wib_midnight
from simulators import sites as known_sites
from simulators.scenario.times import (
    format_daytime,
    parse_clock,
    parse_daytime,
    parse_duration,
)

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
CLASSES = ("SM", "KR", "KS", "BB", "TB")

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Allowed("seconds, or text like '45s', '90m', '1h30m', '2d'"),
]
DayTime = Annotated[
    float, BeforeValidator(parse_daytime), Allowed("a scenario time like 'day1 14:30' (WIB)")
]
Clock = Annotated[float, BeforeValidator(parse_clock), Allowed("a time of day like '13:30' (WIB)")]
Share = Annotated[float, Field(ge=0, le=1)]
Sites = list[str] | None


def _pair(name: str):
    def check(value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"{name}: the first value must not exceed the second")
        return value

    return check


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StormClimate(_Model):
    """Random afternoon convective storms: each day, each site."""

    probability: Share = Field(0.6, description="chance of a storm on a day (rainy: 0.6-0.8)")
    coverage: Share = Field(0.8, description="share of sites the day's storm reaches")
    start: tuple[Clock, Clock] = Field(
        (13 * 3600.0, 17 * 3600.0),
        description="window of storm onset, WIB",
        json_schema_extra={"default_shown": '["13:00", "17:00"]'},
    )
    duration: tuple[Duration, Duration] = Field((2400.0, 9000.0), description="storm length")
    peak: tuple[float, float] = Field((8.0, 45.0), description="peak rain intensity, mm/h")

    @model_validator(mode="after")
    def _ordered(self) -> StormClimate:
        for name in ("start", "duration", "peak"):
            _pair(name)(getattr(self, name))
        return self


class StormEvent(_Model):
    """A scripted storm on top of the random ones."""

    at: DayTime = Field(description="when it starts")
    duration: Duration = Field(description="how long it rains")
    peak: Annotated[float, Field(gt=0, le=300)] = Field(description="peak rain intensity, mm/h")
    sites: Sites = Field(None, description="gateways of the sites it reaches; unset: every site")


class Weather(_Model):
    """The weather regime of the scenario."""

    temperature: tuple[float, float] = Field(
        (23.5, 33.0), description="dry-day minimum (dawn) and maximum (14:00), °C"
    )
    humidity: tuple[float, float] = Field(
        (62.0, 97.0), description="afternoon minimum and night maximum, % RH"
    )
    pressure: float = Field(1009.5, description="mean air pressure, hPa")
    wind_direction: Annotated[float, Field(ge=0, lt=360)] = Field(
        300.0, description="prevailing wind, degrees from north"
    )
    storms: StormClimate = StormClimate()
    events: list[StormEvent] = []

    @model_validator(mode="after")
    def _ordered(self) -> Weather:
        _pair("temperature")(self.temperature)
        _pair("humidity")(self.humidity)
        return self


class Haze(_Model):
    """A dry-season haze episode (karhutla smoke): PM2.5 rises, holds, clears."""

    start: DayTime = Field(description="when the smoke starts to build")
    ramp: Duration = Field(3 * 86400.0, description="smooth rise to the peak")
    hold: Duration = Field(2 * 86400.0, description="time at the peak")
    clear: Duration = Field(86400.0, description="smooth fall")
    peak_pm25: Annotated[float, Field(gt=0, le=1000)] = Field(
        300.0, description="daily mean PM2.5 at the height of the episode, µg/m³"
    )
    sites: Sites = Field(None, description="gateways of the sites it reaches; unset: every site")


class Traffic(_Model):
    """Traffic at a site (classes SM, KR, KS, BB, TB)."""

    profile: Literal["town", "arterial", "rural"] = Field("rural", description="24-hour profile")
    peak_volume: Annotated[float, Field(ge=0)] = Field(
        500.0, description="weekday peak, both directions, veh/h"
    )
    capacity: Annotated[float, Field(gt=0)] = Field(
        2600.0, description="both directions, smp/h (site config)"
    )
    road_type: Literal["2/2UD", "4/2D"] = Field("2/2UD", description="MKJI/PKJI road type")
    lanes: list[Annotated[int, Field(ge=1, le=9)]] = Field([1, 2], description="lane numbers")
    class_mix: dict[str, Share] | None = Field(
        None, description="share of each class, adding up to 1; unset: by profile"
    )
    free_speed: dict[str, Annotated[float, Field(gt=0, le=150)]] | None = Field(
        None, description="free-flow speed per class, km/h; unset: defaults"
    )
    emp: dict[str, Annotated[float, Field(gt=0, le=5)]] | None = Field(
        None, description="passenger-car units per class; unset: by road type"
    )
    tidal: Share = Field(0.1, description="direction imbalance at the peaks (lane 1 in, mornings)")
    congestion: tuple[float, float] = Field(
        (0.6, 5.0), description="[a, b] in speed = free / (1 + a * DS^b)"
    )

    @model_validator(mode="after")
    def _classes(self) -> Traffic:
        for name in ("class_mix", "free_speed", "emp"):
            table = getattr(self, name)
            if table is not None and set(table) - set(CLASSES):
                raise ValueError(
                    f"{name}: unknown class(es) {sorted(set(table) - set(CLASSES))}"
                    f"; classes are {list(CLASSES)}"
                )
        if self.class_mix is not None and abs(sum(self.class_mix.values()) - 1) > 0.01:
            raise ValueError(
                f"class_mix shares add up to {sum(self.class_mix.values()):.3f}, not 1"
            )
        if len(set(self.lanes)) != len(self.lanes) or not self.lanes:
            raise ValueError("lanes must be distinct lane numbers, at least one")
        return self


class Flood(_Model):
    """Water on a low road segment: level in cm above the road surface (negative: below)."""

    base_level: float = Field(-40.0, description="cm in dry weather (water below the road)")
    fast_gain: float = Field(0.9, description="cm per mm in the fast (drainage) reservoir")
    fast_tau: Duration = Field(3 * 3600.0, description="time constant of the fast reservoir")
    slow_gain: float = Field(0.25, description="cm per mm in the slow (river) reservoir")
    slow_tau: Duration = Field(30 * 3600.0, description="time constant of the slow reservoir")
    max_level: float = Field(150.0, description="highest level, cm")
    gauge_height: Annotated[float, Field(gt=0)] = Field(
        300.0, description="ultrasonic sensor above the road, cm"
    )
    levels: dict[str, float] = Field(
        {"waspada": 10.0, "siaga": 20.0, "awas": 30.0}, description="named levels, cm"
    )


class Air(_Model):
    """Air quality at a site."""

    pm25_base: Annotated[float, Field(gt=0, le=500)] = Field(
        20.0, description="clean-air daily mean PM2.5, µg/m³"
    )
    pm10_ratio: Annotated[float, Field(ge=1, le=4)] = Field(1.45, description="PM10 / PM2.5")
    traffic_share: Share = Field(0.25, description="share of pm25_base added at the traffic peak")


class Surface(_Model):
    """Road surface (asphalt) temperature."""

    solar_gain: Annotated[float, Field(ge=0, le=40)] = Field(
        22.0, description="°C above the air at a clear noon"
    )
    night_excess: Annotated[float, Field(ge=0, le=10)] = Field(
        1.5, description="°C above the air at night"
    )


class SiteConfig(_Model):
    """A site: a gateway of simulators/sites.py, or one described by the four keys after it."""

    gateway: str = Field(description="gateway id")
    name: str | None = Field(None, description="site name; unset: from simulators/sites.py")
    kecamatan: str | None = Field(None, description="district; unset: from simulators/sites.py")
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = Field(
        None, description="decimal degrees; unset: from simulators/sites.py"
    )
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = Field(
        None, description="decimal degrees; unset: from simulators/sites.py"
    )
    traffic: Traffic = Traffic()
    flood: Flood | None = Field(None, description="only low segments: gives water_level")
    air: Air = Air()
    surface: Surface = Surface()


class Expect(_Model):
    """A threshold crossing the scenario produces."""

    at: DayTime = Field(description="when it happens")
    site: str = Field(description="gateway id of the site")
    signal: str = Field(description="a signal of simulators/scenario/levels.py, e.g. water_level")
    crosses: str | float = Field(description="a named level (siaga, tidak_sehat, E) or a number")
    direction: Literal["up", "down"] = Field("up", description="reached, or left for good")
    tolerance: Duration = Field(900.0, description="how far off the time may be")


class ScenarioFile(_Model):
    """A scenario file, simulators/scenarios/<name>.toml."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="the scenario's name")
    description: str = Field("", description="what happens, for people (English)")
    description_id: str = Field(
        "",
        description="the same in Bahasa Indonesia (shown by default; `--lang en`: English); "
        "unset: only the English text",
    )
    seed: int = Field(1, description="same seed, same values (override: --seed)")
    start: dt.date = Field(description="day 1 (a WIB date)")
    duration: Duration = Field(description="how long the scenario runs")
    speed: Annotated[float, Field(gt=0, le=1e7)] = Field(
        1440.0, description="scenario seconds per real second"
    )
    step: Duration = Field(300.0, description="ground-truth sampling step, scenario time")
    season: Literal["rainy", "dry"] = Field("rainy", description="sets cloudiness")
    weather: Weather = Weather()
    haze: Haze | None = Field(None, description="a haze episode; unset: none")
    sites: list[SiteConfig] = Field(min_length=1, description="the sites, [[sites]] each")
    expect: list[Expect] = Field([], description="expected crossings, [[expect]] each")
    faults: list[dict[str, Any]] = Field(
        [], description="device faults (simulators/devices/faults.py, docs/simulators.md)"
    )

    @model_validator(mode="after")
    def _sane(self) -> ScenarioFile:
        if self.duration <= 0 or self.step <= 0:
            raise ValueError("duration and step must be more than zero")
        return self


def start_epoch(day1: dt.date) -> float:
    """Unix time of day 1, 00:00 WIB."""
    return wib_midnight((day1 - dt.date(1970, 1, 1)).days)


def scenario_path(name_or_path: str | Path) -> Path:
    """A shipped scenario by name, or a path to a file."""
    text = str(name_or_path)
    if "/" in text or text.endswith(".toml"):
        return Path(text)
    return SCENARIO_DIR / f"{text}.toml"


def shipped() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def no_such_scenario(path: Path) -> Text:
    """A scenario that does not exist: the shipped ones, and the closest ("did you mean")."""
    names = shipped()
    close = difflib.get_close_matches(path.stem, names, n=1)
    if close:
        return T("simulate.err.no_scenario_close", close=close[0], known=", ".join(names))
    return T("simulate.err.no_scenario", known=", ".join(names))


def load_scenario_file(name_or_path: str | Path) -> tuple[ScenarioFile, Path]:
    path = scenario_path(name_or_path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        hint = f"file not found (shipped scenarios: {', '.join(shipped())})"
        raise ConfigError(path, [("(file)", str(path), hint)], [no_such_scenario(path)]) from None
    except OSError as exc:
        raise ConfigError(path, [("(file)", str(path), f"cannot read: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, [("(file)", str(path), "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("(syntax)", None, f"not valid TOML: {exc}")]) from None
    model = validate(ScenarioFile, data, path)
    problems = cross_check(model)
    if problems:
        raise ConfigError(path, problems)
    return model, path


def cross_check(model: ScenarioFile) -> list[tuple[str, Any, str]]:
    """Problems between sections: unknown sites, levels that do not exist, missing places."""
    from simulators.scenario.levels import SIGNALS, resolve_level

    problems: list[tuple[str, Any, str]] = []
    ids = [s.gateway for s in model.sites]
    by_id = {s.gateway: s for s in model.sites}
    for i, s in enumerate(model.sites):
        if ids.count(s.gateway) > 1 and ids.index(s.gateway) != i:
            problems.append((f"sites[{i}].gateway", s.gateway, "site listed twice"))
        known = _known(s.gateway)
        for key in ("name", "kecamatan", "latitude", "longitude"):
            if getattr(s, key) is None and known is None:
                problems.append(
                    (
                        f"sites[{i}].{key}",
                        None,
                        f"required for a site not in simulators/sites.py "
                        f"(known: {', '.join(x.gateway for x in known_sites.SITES)})",
                    )
                )
    for i, ev in enumerate(model.weather.events):
        for site in ev.sites or []:
            if site not in by_id:
                problems.append((f"weather.events[{i}].sites", site, f"no such site; sites: {ids}"))
    if model.haze is not None:
        for site in model.haze.sites or []:
            if site not in by_id:
                problems.append(("haze.sites", site, f"no such site; sites: {ids}"))
    for i, ex in enumerate(model.expect):
        key = f"expect[{i}]"
        if ex.site not in by_id:
            problems.append((f"{key}.site", ex.site, f"no such site; sites: {ids}"))
            continue
        if ex.signal not in SIGNALS:
            problems.append((f"{key}.signal", ex.signal, f"unknown signal; known: {SIGNALS}"))
            continue
        try:
            resolve_level(ex.signal, by_id[ex.site], ex.crosses)
        except ValueError as exc:
            problems.append((f"{key}.crosses", ex.crosses, str(exc)))
        if ex.at > model.duration:
            problems.append((f"{key}.at", format_daytime(ex.at), "after the end of the scenario"))
    return problems


def _known(gateway: str) -> known_sites.Site | None:
    try:
        return known_sites.site(gateway)
    except KeyError:
        return None
