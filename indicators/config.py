"""The indicators job's TOML file (``jagajalan analytics run --config analytics.toml``).

Site parameters (a road's type and capacity, a site's flood ladder) come from the registry
(indicators/sites.py merges them in) and from ``[[sites]]`` here, which overrides what it
sets, with defaults per road type from ../shared/DOMAIN.md (:mod:`analytics.traffic`,
:mod:`analytics.flood`). Loaded
with :func:`kernel.config.load_toml`: every mistake names the file, the key and the value.
Without a file every default applies.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics import flood, traffic
from analytics.ispu import VARIANTS, IspuScale
from telemetry.topics import ID_PATTERN

#: Every window length divides an hour, so that the backfill's hour-long chunks hold whole
#: windows (and a site's readings of one chunk stay few in memory).
HOUR_S = 3600
DAY_S = 86_400


def _road_type(value: str) -> str:
    key = traffic.road_type_key(value)  # raises naming the known types
    if key not in traffic.EKR_URBAN:
        known = sorted(traffic.EKR_URBAN)
        raise ValueError(f"no ekr table for road type {key!r}; use one of {known}")
    return key


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _divides_an_hour(value: int) -> int:
    if HOUR_S % value:
        raise ValueError(f"{value} s does not divide an hour (3600 s): use e.g. 300, 900, 3600")
    return value


class IspuSection(_Model):
    """ISPU per station per hour (Permen LHK P.14/2020) from `air_quality` readings."""

    averaging_hours: int = Field(
        1,
        ge=1,
        le=24,
        description="hours averaged for each hourly ISPU (the hour itself and the ones before "
        "it); below 24 the index is marked indicative (indikatif), as the regulation's "
        "periods are 24 h",
    )
    variant: Literal["continuous", "openaq"] = Field(
        "continuous", description=f"how bands are read between breakpoints: {', '.join(VARIANTS)}"
    )

    def scale(self) -> IspuScale:
        return IspuScale(variant=self.variant)


class TrafficSection(_Model):
    """Traffic per segment (one gateway's counter) per interval from `traffic` readings."""

    interval_s: int = Field(
        900, ge=60, le=3600, description="length of a traffic window, seconds (divides an hour)"
    )
    road_type: str = Field(
        "2/2-TT", description="road type of sites that do not name one (PKJI: 2/2-TT, 4/2-T, 6/2-T)"
    )
    width_m: float = Field(
        7.0, gt=0, le=40, description="carriageway width, m, where the SM ekr depends on it"
    )
    area: Literal["antarkota", "perkotaan"] = Field(
        "antarkota", description="PM 96/2015 speed bands for `los_speed`"
    )
    vc_bands: list[float] = Field(
        [0.20, 0.45, 0.70, 0.85, 1.00],
        min_length=5,
        max_length=5,
        description="upper V/C (degree of saturation) of A to E, rising; beyond E is F "
        "(KM 14/2006 view, still common in reports)",
    )

    _check_interval = field_validator("interval_s")(_divides_an_hour)

    _check_road_type = field_validator("road_type")(_road_type)

    @field_validator("vc_bands")
    @classmethod
    def _rising(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)) or value[0] <= 0:
            raise ValueError("give 5 rising values > 0, for A, B, C, D and E")
        return value


class FloodSection(_Model):
    """Flood status per site from `water_level` readings (field `level`)."""

    interval_s: int = Field(
        300,
        ge=60,
        le=3600,
        description="length of a flood-status window, seconds (divides an hour)",
    )
    warmup_s: int = Field(
        10_800,
        ge=0,
        le=DAY_S,
        description="readings before a window replayed to find its level (hysteresis "
        "state), seconds: the status depends on the readings only, so recomputing is "
        "idempotent",
    )
    levels: dict[str, float] = Field(
        {s.key: s.threshold for s in flood.ROAD_DEPTH.steps},
        description="default ladder, level key = threshold (cm of water on the road, "
        "project defaults of ../shared/DOMAIN.md)",
    )
    unit: str = Field("cm", min_length=1, description="unit of `level` and the thresholds")
    hysteresis: float = Field(
        flood.ROAD_DEPTH.hysteresis,
        ge=0,
        description="a level clears only below threshold minus this, same unit",
    )

    _check_interval = field_validator("interval_s")(_divides_an_hour)

    def ladder(
        self, levels: dict[str, float] | None = None, hysteresis: float | None = None
    ) -> flood.Ladder:
        return flood.ladder_from_levels(
            "flood",
            levels or self.levels,
            self.unit,
            hysteresis=self.hysteresis if hysteresis is None else hysteresis,
        )

    @model_validator(mode="after")
    def _valid_ladder(self) -> FloodSection:
        self.ladder()  # raises ValueError naming the level
        return self


class Site(_Model):
    """One site's parameters, by gateway: from the registry, or overriding it (sites.py)."""

    gateway: str = Field(pattern=f"^{ID_PATTERN}$", description="the site's gateway")
    road_type: str | None = Field(None, description="road type; unset: [traffic] road_type")
    capacity: float | None = Field(
        None, gt=0, description="capacity C, smp/jam; unset: C0 of the road type (PKJI 2023)"
    )
    width_m: float | None = Field(None, gt=0, description="carriageway width; unset: [traffic]")
    flood_levels: dict[str, float] | None = Field(
        None, description="this site's ladder (e.g. a river gauge's Siaga III/II/I); unset: [flood]"
    )
    flood_hysteresis: float | None = Field(
        None, ge=0, description="this site's hysteresis, same unit; unset: [flood] hysteresis"
    )

    @model_validator(mode="after")
    def _has_capacity(self) -> Site:
        if self.capacity is None and self.road_type is not None:
            traffic.base_capacity(self.road_type)  # raises when the type has no C0
        return self

    @field_validator("road_type")
    @classmethod
    def _site_road_type(cls, value: str | None) -> str | None:
        return None if value is None else _road_type(value)

    @model_validator(mode="after")
    def _valid_ladder(self) -> Site:
        if self.flood_levels is not None:
            flood.ladder_from_levels("flood", self.flood_levels, "cm")
        return self


class IndicatorsConfig(_Model):
    """The indicators job's file (`jagajalan analytics run/backfill --config`)."""

    ispu: IspuSection = Field(default_factory=IspuSection, description="hourly ISPU")
    traffic: TrafficSection = Field(default_factory=TrafficSection, description="traffic")
    flood: FloodSection = Field(default_factory=FloodSection, description="flood status")
    sites: list[Site] = Field(
        [], description="per-site parameters, by gateway; override the registry's"
    )

    @model_validator(mode="after")
    def _distinct(self) -> IndicatorsConfig:
        seen = [s.gateway for s in self.sites]
        twice = sorted({g for g in seen if seen.count(g) > 1})
        if twice:
            raise ValueError(f"gateways listed twice in [[sites]]: {twice}")
        return self

    def site(self, gateway: str) -> Site:
        for s in self.sites:
            if s.gateway == gateway:
                return s
        return Site(gateway=gateway)

    def capacity(self, gateway: str) -> float:
        s = self.site(gateway)
        if s.capacity is not None:
            return s.capacity
        return traffic.base_capacity(s.road_type or self.traffic.road_type)

    def ladder(self, gateway: str) -> flood.Ladder:
        s = self.site(gateway)
        return self.flood.ladder(s.flood_levels, s.flood_hysteresis)
