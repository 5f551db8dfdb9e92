"""The sites of the registry as the API shows them: the facts (``GET /sites``) and the district
at a glance (``GET /sites/latest``), built from values already read. Pure: no store, no
database, no FastAPI (api/routes/sites.py does the reading).

``/sites/latest`` per site: its gateways' state (from :meth:`store.StoreReader.gateways`), the
newest point of each indicator the analytics job writes (``jagajalan_flood_status``,
``jagajalan_ispu_hourly``, ``jagajalan_traffic``: computed once, read here) among the site's
gateways, and the newest reading of every field of those gateways. When a site has several
gateways with the same indicator, the newest point wins (ties: the worse one).

Flood status names follow the site's ladder in the registry: ``road_depth`` normal / waspada /
siaga / awas (water on the road, cm), ``river_gauge`` normal / siaga_3 / siaga_2 / siaga_1
(Siaga III / II / I, m), from the level number the job stored (``level_code``); a site
without a ladder in the registry shows the job's own level key. The level is in the ladder's
unit (the readings' cm converted to m for a river gauge).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from kernel.times import utc_iso, wib_iso
from registry.read import RegistryReader, SiteRecord
from store.base import GatewaySeen, LatestValue
from telemetry.mapping import Point
from telemetry.models import (
    FLOOD_STATUS_MEASUREMENT,
    ISPU_HOURLY_MEASUREMENT,
    TRAFFIC_INDICATOR_MEASUREMENT,
)
from telemetry.topics import ID_PATTERN
from telemetry.units import FIELDS

#: A level in cm (the readings' unit) in the ladder's unit.
CM_IN = {"cm": 1.0, "m": 0.01}
#: What /sites/latest reads of the indicators, one store call for the three.
INDICATORS = (FLOOD_STATUS_MEASUREMENT, ISPU_HOURLY_MEASUREMENT, TRAFFIC_INDICATOR_MEASUREMENT)

_UTC = "ISO 8601 time in UTC with a Z suffix, millisecond precision"
_WIB = "the same instant in WIB (Asia/Jakarta, +07:00), for people"
EX_UTC, EX_WIB = "2025-11-30T08:00:00.000Z", "2025-11-30T15:00:00.000+07:00"


# -- GET /sites, /sites/{site} ----------------------------------------------------------------
class SensorPublic(BaseModel):
    id: str = Field(description="the device id in its gateway's config", examples=["wl1"])
    device: str = Field(
        description="device type: modbus, traffic_counter, weather_ascii, nmea_gps",
        examples=["modbus"],
    )
    profile: str | None = Field(
        description="the Modbus profile (sensor model), null for other devices",
        examples=["ultrasonic_level"],
    )


class SiteGateway(BaseModel):
    id: str = Field(description="gateway id (its MQTT id)", examples=["srl-pasar-01"])
    sensors: list[SensorPublic] = Field(description="by id")


class ThresholdPublic(BaseModel):
    status: str = Field(
        description="the status from this value up: waspada, siaga, awas (road_depth) or "
        "siaga_3, siaga_2, siaga_1 (river_gauge)",
        examples=["waspada"],
    )
    value: float = Field(description="threshold, in the ladder's unit", examples=[10.0])


class FloodLadder(BaseModel):
    ladder: str = Field(
        description="road_depth (water on the road, cm) or river_gauge (a gauge's level, m)",
        examples=["road_depth"],
    )
    unit: str = Field(description="cm or m", examples=["cm"])
    thresholds: list[ThresholdPublic] = Field(description="the three thresholds, rising")


class SitePublic(BaseModel):
    id: str = Field(examples=["pasar-sarolangun"])
    name: str = Field(examples=["Jl. Lintas Sumatera, Pasar Sarolangun"])
    road: str = Field(examples=["Jl. Lintas Sumatera"])
    segment: str | None = Field(examples=["Pasar Sarolangun"])
    kecamatan: str = Field(examples=["Sarolangun"])
    latitude: float = Field(description="WGS 84, degrees", examples=[-2.2985])
    longitude: float = Field(description="WGS 84, degrees", examples=[102.7045])
    road_type: str | None = Field(
        description="PKJI road type, e.g. arteri_primer", examples=["arteri_primer"]
    )
    capacity_smp_per_hour: float | None = Field(
        description="capacity C of the segment, smp/jam (pcu/h)", examples=[2300.0]
    )
    flood: FloodLadder | None = Field(description="the site's flood ladder; null: none")
    gateways: list[SiteGateway] = Field(description="the gateways at the site, by id")


def site_public(site: SiteRecord) -> SitePublic:
    flood = None
    if site.flood is not None:
        flood = FloodLadder(
            ladder=site.flood.kind,
            unit=site.flood.unit,
            thresholds=[
                ThresholdPublic(status=t.status, value=t.value) for t in site.flood.thresholds
            ],
        )
    return SitePublic(
        id=site.id,
        name=site.name,
        road=site.road,
        segment=site.segment,
        kecamatan=site.kecamatan,
        latitude=site.latitude,
        longitude=site.longitude,
        road_type=site.road_type,
        capacity_smp_per_hour=site.capacity_smp_per_hour,
        flood=flood,
        gateways=[
            SiteGateway(
                id=g.id,
                sensors=[
                    SensorPublic(id=s.id, device=s.device, profile=s.profile) for s in g.sensors
                ],
            )
            for g in site.gateways
        ],
    )


# -- GET /sites/latest ------------------------------------------------------------------------
class GatewayState(BaseModel):
    id: str = Field(examples=["srl-pasar-01"])
    online: bool | None = Field(
        description="true/false from the gateway's newest status message; null: none seen",
        examples=[True],
    )
    last_seen: str | None = Field(
        description=f"send time of its newest batch; {_UTC}; null: none", examples=[EX_UTC]
    )
    last_seen_wib: str | None = Field(description=_WIB, examples=[EX_WIB])


class FloodNow(BaseModel):
    status: str = Field(
        description="normal, waspada, siaga, awas (road_depth) or normal, siaga_3, siaga_2, "
        "siaga_1 (river_gauge): the site's ladder",
        examples=["waspada"],
    )
    code: int = Field(description="0 (normal) to 3 (the highest level)", examples=[1])
    level: float | None = Field(
        description="water level at the end of the interval, in unit", examples=[12.5]
    )
    unit: str = Field(
        description="the unit of the site's ladder: cm (water on the road) or m (a river "
        "gauge); cm for a site without a ladder",
        examples=["cm"],
    )
    time: str = Field(description=f"start of the job's interval; {_UTC}", examples=[EX_UTC])
    time_wib: str = Field(description=_WIB, examples=[EX_WIB])


class AirNow(BaseModel):
    ispu: float = Field(description="the station's ISPU (Permen LHK P.14/2020)", examples=[112.4])
    category: str = Field(
        description="baik, sedang, tidak_sehat, sangat_tidak_sehat, berbahaya",
        examples=["tidak_sehat"],
    )
    colour: str = Field(description="the category's official colour", examples=["#ffff00"])
    dominant: str = Field(description="the parameter with the highest index", examples=["pm25"])
    time: str = Field(description=f"start of the hour; {_UTC}", examples=[EX_UTC])
    time_wib: str = Field(description=_WIB, examples=[EX_WIB])


class TrafficNow(BaseModel):
    los: str = Field(description="level of service A-F from V/C", examples=["C"])
    ds: float = Field(description="degree of saturation V/C", examples=[0.62])
    flow_smp_per_hour: float = Field(description="flow, smp/jam (pcu/h)", examples=[1426.0])
    time: str = Field(description=f"start of the interval; {_UTC}", examples=[EX_UTC])
    time_wib: str = Field(description=_WIB, examples=[EX_WIB])


class ReadingNow(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    sensor: str = Field(examples=["wl1"])
    measurement: str = Field(examples=["water_level"])
    tags: dict[str, str] = Field(
        description="the reading's own tags (lane, direction, vehicle_class)", examples=[{}]
    )
    field: str = Field(examples=["level"])
    value: int | float | str = Field(examples=[12.5])
    unit: str | None = Field(description="unit of the field; null if unknown", examples=["cm"])
    time: str = Field(description=f"time of this value; {_UTC}", examples=[EX_UTC])
    time_wib: str = Field(description=_WIB, examples=[EX_WIB])


class SiteNow(BaseModel):
    id: str = Field(examples=["pasar-sarolangun"])
    name: str = Field(examples=["Jl. Lintas Sumatera, Pasar Sarolangun"])
    road: str = Field(examples=["Jl. Lintas Sumatera"])
    kecamatan: str = Field(examples=["Sarolangun"])
    latitude: float = Field(examples=[-2.2985])
    longitude: float = Field(examples=[102.7045])
    gateways: list[GatewayState] = Field(description="the site's gateways, by id")
    online: bool | None = Field(
        description="true: every gateway online; false: one is offline; null: not known "
        "(no gateway, or one never reported a state)",
        examples=[True],
    )
    flood: FloodNow | None = Field(description="null: no flood status computed for the site")
    air: AirNow | None = Field(description="null: no ISPU computed for the site")
    traffic: TrafficNow | None = Field(description="null: no traffic indicator for the site")
    latest: list[ReadingNow] = Field(
        description="the newest value of every field of the site's gateways' readings"
    )


class District(BaseModel):
    time: str = Field(description=f"when this answer was made; {_UTC}", examples=[EX_UTC])
    time_wib: str = Field(description=_WIB, examples=[EX_WIB])
    sites: list[SiteNow] = Field(description="every site of the registry, by id")


def _online(states: Sequence[GatewayState]) -> bool | None:
    if any(g.online is False for g in states):
        return False
    if states and all(g.online for g in states):
        return True
    return None


def _pick(points: Iterable[Point], rank: str) -> Point | None:
    """The newest point; at the same time the one with the highest *rank* field."""

    def key(p: Point) -> tuple[int, float]:
        value = p.fields.get(rank)
        return p.time_ms, float(value) if isinstance(value, int | float) else -1.0

    return max(points, key=key, default=None)


def _num(point: Point, name: str) -> float | None:
    value = point.fields.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@functools.lru_cache(maxsize=4096)  # a district's values share few distinct times
def _times(ms: int) -> dict[str, str]:
    return {"time": utc_iso(ms) or "", "time_wib": wib_iso(ms) or ""}


def flood_now(site: SiteRecord, point: Point | None) -> FloodNow | None:
    if point is None:
        return None
    code = int(_num(point, "level_code") or 0)
    status = site.flood.status(code) if site.flood else str(point.fields.get("level", ""))
    level, unit = _num(point, "water_level"), site.flood.unit if site.flood else "cm"
    if level is not None:  # readings' `level` is cm (telemetry.units); a gauge's ladder: m
        level = round(level * CM_IN[unit], 4)
    return FloodNow(status=status, code=code, level=level, unit=unit, **_times(point.time_ms))


def air_now(point: Point | None) -> AirNow | None:
    ispu = None if point is None else _num(point, "ispu")
    if point is None or ispu is None:
        return None
    return AirNow(
        ispu=ispu,
        category=str(point.fields.get("category", "")),
        colour=str(point.fields.get("colour", "")),
        dominant=str(point.fields.get("dominant", "")),
        **_times(point.time_ms),
    )


def traffic_now(point: Point | None) -> TrafficNow | None:
    if point is None:
        return None
    ds, flow = _num(point, "degree_of_saturation"), _num(point, "flow_smp")
    if ds is None or flow is None:
        return None
    return TrafficNow(
        los=str(point.fields.get("los", "")), ds=ds, flow_smp_per_hour=flow, **_times(point.time_ms)
    )


def reading_now(v: LatestValue) -> ReadingNow:
    """Built without validation (``model_construct``): the store's values are typed already,
    and a district holds thousands of them."""
    spec = FIELDS.get(v.field)
    return ReadingNow.model_construct(
        gateway=v.gateway,
        sensor=v.sensor,
        measurement=v.measurement,
        tags=v.tags,
        field=v.field,
        value=v.value,
        unit=spec.unit if spec else None,
        **_times(v.time_ms),
    )


def district(
    sites: Sequence[SiteRecord],
    seen: Sequence[GatewaySeen],
    latest: Sequence[LatestValue],
    indicators: dict[str, list[Point]],
    now_ms: int,
) -> District:
    """The answer of /sites/latest from what the registry and the store answered."""
    seen_by = {g.gateway: g for g in seen}
    values: dict[str, list[LatestValue]] = {}
    for v in latest:
        values.setdefault(v.gateway, []).append(v)
    newest: dict[tuple[str, str], list[Point]] = {}
    for measurement, points in indicators.items():
        for p in points:
            newest.setdefault((measurement, p.tags.get("gateway", "")), []).append(p)
    out = []
    for site in sites:
        ids = [g.id for g in site.gateways]
        states = [_state(i, seen_by.get(i)) for i in ids]

        def among(measurement: str, ids: list[str] = ids) -> list[Point]:
            return [p for i in ids for p in newest.get((measurement, i), [])]

        out.append(
            SiteNow(
                id=site.id,
                name=site.name,
                road=site.road,
                kecamatan=site.kecamatan,
                latitude=site.latitude,
                longitude=site.longitude,
                gateways=states,
                online=_online(states),
                flood=flood_now(site, _pick(among(FLOOD_STATUS_MEASUREMENT), "level_code")),
                air=air_now(_pick(among(ISPU_HOURLY_MEASUREMENT), "ispu")),
                traffic=traffic_now(
                    _pick(among(TRAFFIC_INDICATOR_MEASUREMENT), "degree_of_saturation")
                ),
                latest=[reading_now(v) for i in ids for v in values.get(i, [])],
            )
        )
    return District(sites=out, **_times(now_ms))


def _state(gateway: str, seen: GatewaySeen | None) -> GatewayState:
    state = seen.state if seen else None
    last = seen.last_seen_ms if seen else None
    return GatewayState(
        id=gateway,
        online=None if state not in ("online", "offline") else state == "online",
        last_seen=utc_iso(last),
        last_seen_wib=wib_iso(last),
    )


def site_gateway(registry: RegistryReader | None, site: str, gateway: str | None) -> str:
    """The gateway a ``site`` names (through the registry): 400 ``invalid_parameter`` for an
    unknown site, a gateway not at it, or a site with several gateways and none named; 503
    without a registry."""
    from api.errors import InvalidParameter, NoRegistry

    if registry is None:
        raise NoRegistry()
    if not re.fullmatch(ID_PATTERN, site):
        raise InvalidParameter("site", site, "a site id: lower-case letters, digits and '-'")
    record = registry.site(site)
    if record is None:
        raise InvalidParameter("site", site, "no such site in the registry (GET /sites)")
    ids = sorted(g.id for g in record.gateways)
    if gateway is not None and gateway not in ids:
        raise InvalidParameter("gateway", gateway, f"not at site {site} (its gateways: {ids})")
    if gateway is None and len(ids) != 1:
        how = "it has none" if not ids else f"it has {', '.join(ids)}: add gateway="
        raise InvalidParameter("site", site, how)
    return gateway or ids[0]
