"""``GET /conditions``: what the latest readings mean, per site, in words people use.

Computed on each request from the store's latest values (:meth:`store.StoreReader.latest`)
with the domain arithmetic of :mod:`analytics`; nothing is stored:

- **water**: the newest ``water_level.level`` (cm above the road) with its status on
  :data:`analytics.flood.ROAD_STATUS` (normal, waspada, siaga, awas) and what it means for
  traffic on :data:`analytics.flood.ROAD_DEPTH`;
- **air**: the newest ``air_quality.pm25`` with its ISPU index and category
  (:mod:`analytics.ispu`). The official ISPU averages 24 hours; this is the index of the newest
  value, an early indication;
- **traffic**: the newest interval of the traffic counter: vehicles counted, flow in pcu/h
  (smp/jam), mean speed and, when the gateway knows the segment's capacity
  (``traffic_segment``), the degree of saturation and its level of service
  (:func:`analytics.los.los_by_vc`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from analytics import flood, ispu, los
from api.deps import StoreDep
from api.errors import INVALID_REQUEST, STORE_ERRORS
from kernel.times import utc_iso, wib_iso
from store import LatestValue
from telemetry.topics import ID_PATTERN

router = APIRouter(tags=["conditions"])

TIME = "time of the value; ISO 8601 in UTC with a Z suffix, millisecond precision"
TIME_WIB = "the same instant in WIB (Asia/Jakarta, +07:00), for people"
EXAMPLE_UTC, EXAMPLE_WIB = "2025-11-30T08:01:00.000Z", "2025-11-30T15:01:00.000+07:00"


class Water(BaseModel):
    level_cm: float = Field(
        description="water above the road surface, cm (negative: below)", examples=[12.5]
    )
    status: str = Field(description="normal, waspada, siaga or awas", examples=["waspada"])
    status_label: str = Field(description="the status in Bahasa Indonesia", examples=["Waspada"])
    status_label_en: str = Field(examples=["Watch"])
    road: str = Field(
        description="what it means for traffic: normal, hati_hati, bahaya_motor, "
        "tidak_dapat_dilalui",
        examples=["hati_hati"],
    )
    road_label: str = Field(examples=["Hati-hati"])
    road_label_en: str = Field(examples=["Caution"])
    time: str = Field(description=TIME, examples=[EXAMPLE_UTC])
    time_wib: str = Field(description=TIME_WIB, examples=[EXAMPLE_WIB])


class Air(BaseModel):
    pm25: float = Field(description="PM2.5, µg/m³", examples=[72.3])
    ispu: float = Field(description="ISPU index of this value (0-500)", examples=[159.6])
    category: str = Field(
        description="baik, sedang, tidak_sehat, sangat_tidak_sehat, berbahaya",
        examples=["tidak_sehat"],
    )
    category_label: str = Field(examples=["Tidak Sehat"])
    category_label_en: str = Field(examples=["Unhealthy"])
    colour: str = Field(description="official ISPU colour", examples=["#cccc00"])
    time: str = Field(description=TIME, examples=[EXAMPLE_UTC])
    time_wib: str = Field(description=TIME_WIB, examples=[EXAMPLE_WIB])


class Traffic(BaseModel):
    vehicles: int = Field(
        description="vehicles counted in the newest interval, all lanes", examples=[37]
    )
    pcu_per_hour: float | None = Field(
        description="flow in pcu/h (smp/jam), all lanes", examples=[1554.0]
    )
    speed_mean: float | None = Field(description="mean spot speed, km/h", examples=[42.6])
    degree_of_saturation: float | None = Field(
        description="flow / capacity, when the gateway knows the segment's capacity",
        examples=[0.54],
    )
    los: str | None = Field(
        description="level of service A-F from the degree of saturation", examples=["C"]
    )
    time: str = Field(description=f"start of the interval; {TIME}", examples=[EXAMPLE_UTC])
    time_wib: str = Field(description=TIME_WIB, examples=[EXAMPLE_WIB])


class SiteConditions(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    water: Water | None = Field(description="null: the site has no water-level gauge")
    air: Air | None = Field(description="null: the site has no particulate sensor")
    traffic: Traffic | None = Field(description="null: the site has no traffic counter")


GatewayParam = Annotated[
    str | None,
    Query(pattern=f"^{ID_PATTERN}$", description="only this gateway", examples=["srl-pasar-01"]),
]


@router.get(
    "/conditions",
    response_model=list[SiteConditions],
    summary="Water on the road, air quality (ISPU) and traffic per site, labelled",
    responses={**INVALID_REQUEST, **STORE_ERRORS},
)
def conditions(store: StoreDep, gateway: GatewayParam = None) -> list[SiteConditions]:
    """One entry per gateway that sent water, air or traffic readings, ordered by gateway."""
    by_gateway: dict[str, list[LatestValue]] = defaultdict(list)
    for v in store.latest(gateway=gateway):
        by_gateway[v.gateway].append(v)
    out = []
    for gw in sorted(by_gateway):
        values = by_gateway[gw]
        site = SiteConditions(
            gateway=gw, water=water(values), air=air(values), traffic=traffic(values)
        )
        if site.water or site.air or site.traffic:
            out.append(site)
    return out


def _newest(values: list[LatestValue], measurement: str, field: str) -> LatestValue | None:
    found = [
        v
        for v in values
        if v.measurement == measurement and v.field == field and isinstance(v.value, int | float)
    ]
    return max(found, key=lambda v: v.time_ms, default=None)


def water(values: list[LatestValue]) -> Water | None:
    v = _newest(values, "water_level", "level")
    if v is None:
        return None
    level = float(v.value)
    status = flood.ROAD_STATUS.key_of(level)
    road = flood.ROAD_DEPTH.step(flood.ROAD_DEPTH.level_of(level))
    return Water(
        level_cm=round(level, 1),
        status=status,
        status_label=flood.ROAD_STATUS.label(status, "id"),
        status_label_en=flood.ROAD_STATUS.label(status, "en"),
        road=road.key,
        road_label=road.label_id,
        road_label_en=road.label_en,
        time=utc_iso(v.time_ms) or "",
        time_wib=wib_iso(v.time_ms) or "",
    )


def air(values: list[LatestValue]) -> Air | None:
    v = _newest(values, "air_quality", "pm25")
    if v is None or float(v.value) < 0:
        return None
    pm25 = float(v.value)
    index = ispu.ispu_index("pm25", pm25)
    cat = ispu.category(index)
    return Air(
        pm25=round(pm25, 1),
        ispu=round(index, 1),
        category=cat.key,
        category_label=cat.label_id,
        category_label_en=cat.label_en,
        colour=cat.colour,
        time=utc_iso(v.time_ms) or "",
        time_wib=wib_iso(v.time_ms) or "",
    )


def traffic(values: list[LatestValue]) -> Traffic | None:
    flows = [v for v in values if v.measurement == "traffic_flow"]
    if not flows:
        return None
    newest = max(v.time_ms for v in flows)
    interval = [v for v in flows if v.time_ms == newest]

    def total(field: str) -> float | None:
        found = [float(v.value) for v in interval if v.field == field]
        return sum(found) if found else None

    vehicles = int(total("count") or 0)
    speeds = defaultdict(dict)  # (lane, direction) -> {field: value}
    for v in interval:
        speeds[tuple(sorted(v.tags.items()))][v.field] = v.value
    weighted = [(s["speed_mean"], s.get("count", 0)) for s in speeds.values() if "speed_mean" in s]
    weight = sum(n for _, n in weighted)
    speed = round(sum(x * n for x, n in weighted) / weight, 1) if weight else None
    segment = _newest(values, "traffic_segment", "degree_of_saturation")
    ds = float(segment.value) if segment is not None and segment.time_ms == newest else None
    pcu = total("pcu_flow")
    return Traffic(
        vehicles=vehicles,
        pcu_per_hour=round(pcu, 1) if pcu is not None else None,
        speed_mean=speed,
        degree_of_saturation=round(ds, 3) if ds is not None else None,
        los=los.los_by_vc(ds) if ds is not None else None,
        time=utc_iso(newest) or "",
        time_wib=wib_iso(newest) or "",
    )
