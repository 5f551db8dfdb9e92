"""Open data: readings as FIWARE Smart Data Models entities in NGSI-LD JSON (keyValues form).

Pure: readings in (anything with ``sensor``, ``measurement``, ``time`` in ms UTC, ``fields``
and ``tags``, like :class:`telemetry.models.Reading`) and sites' facts; plain dicts out.

Exported: ``air_quality`` as AirQualityObserved and ``water_level`` as FloodMonitoring
(dataModel.Environment), ``weather`` as WeatherObserved (dataModel.Weather), ``traffic_flow``
(a lane), ``traffic`` (a lane's vehicle class) and ``traffic_segment`` as TrafficFlowObserved
(dataModel.Transportation). One entity per observed thing, id
``urn:ngsi-ld:<Type>:<gateway>:<sensor>[:lane<n>[:<direction>][:<class>]]``.

Values are converted to the units the models document (relative humidity 0-1, speeds km/h,
pressure hPa, water levels in metres); docs/opendata.md explains every choice. A reading that
cannot make a valid entity (a field missing, a value outside the model's range) raises
:class:`ExportError` naming the reading and the field; :func:`export` leaves such readings out
and lists the problems instead of failing the whole export.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from analytics.flood import ROAD_STATUS, Ladder
from analytics.ispu import StationIspu
from analytics.traffic import class_key, within_design_limit

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
#: The JSON-LD @context of a Smart Data Models domain (published with the models).
DOMAIN_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.{}/master/context.jsonld"
)
MODEL_DOMAIN: Mapping[str, str] = {
    "AirQualityObserved": "Environment",
    "FloodMonitoring": "Environment",
    "WeatherObserved": "Weather",
    "TrafficFlowObserved": "Transportation",
}
DATA_PROVIDER = "JagaJalan"

#: PKJI vehicle classes -> TrafficFlowObserved ``vehicleType`` (the PKJI code goes along as
#: ``vehicleSubType``). KS (kendaraan sedang: medium trucks, small buses) and TB (truk besar)
#: are lorries in the model's vocabulary; KTB (unmotorised) are counted as bicycles.
VEHICLE_TYPE: Mapping[str, str] = {
    "SM": "motorcycle",
    "MP": "car",
    "KS": "lorry",
    "BB": "bus",
    "TB": "lorry",
    "KTB": "bicycle",
}
OPPOSITE: Mapping[str, str] = {"N": "S", "S": "N", "E": "W", "W": "E"}


class ExportError(ValueError):
    """A reading that cannot become a valid entity; the message names the reading and why."""


class ReadingLike(Protocol):
    sensor: str
    measurement: str
    time: int
    fields: Mapping[str, float | int]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class SiteInfo:
    """What an entity says about where it was observed (from the registry or the simulators).

    *forward_direction* is the compass direction (``N``, ``E``, ``S``, ``W``) that counts as
    ``forward`` along the road segment; traffic in the opposite direction is ``backward``.
    Without it, ``laneDirection`` is left out.
    """

    gateway: str
    name: str
    latitude: float
    longitude: float
    locality: str = ""  # kecamatan
    region: str = ""  # kabupaten / province
    country: str = "ID"
    forward_direction: str | None = None
    flood_ladder: Ladder = field(default=ROAD_STATUS)

    def __post_init__(self) -> None:
        lat, lon = _finite("latitude", self.latitude), _finite("longitude", self.longitude)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"site {self.gateway!r}: latitude {lat!r} / longitude {lon!r}")
        if self.forward_direction is not None and self.forward_direction not in OPPOSITE:
            raise ValueError(
                f"site {self.gateway!r}: forward_direction {self.forward_direction!r}: "
                f"use one of {sorted(OPPOSITE)}"
            )


@dataclass(frozen=True)
class Export:
    """Entities (newest per id, sorted by id) and the readings left out, one line each."""

    entities: list[dict[str, Any]]
    problems: list[str]


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} {value!r} is not a finite number")
    return float(value)


def iso_utc(ms: int) -> str:
    """ms since the epoch -> ISO 8601 in UTC (``2025-11-30T08:00:00Z``, ``...00.250Z``).

    Calendar arithmetic without the clock or :mod:`datetime` (H. Hinnant's civil_from_days).
    """
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise ValueError(f"time {ms!r} is not an integer number of milliseconds")
    days, rest = divmod(ms, 86_400_000)
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    seconds, millis = divmod(rest, 1000)
    hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
    frac = f".{millis:03d}" if millis else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}{frac}Z"


def _what(r: ReadingLike, gateway: str) -> str:
    return f"{r.measurement} reading of {gateway}/{r.sensor} at {r.time}"


def _get(
    r: ReadingLike, g: str, name: str, low: float = -math.inf, high: float = math.inf, need=False
) -> float | None:
    """A field's value, checked against the model's range; None if absent and not *need*ed."""
    if name not in r.fields:
        if need:
            raise ExportError(f"{_what(r, g)}: field {name!r} is missing")
        return None
    try:
        x = _finite(f"field {name!r}", r.fields[name])
    except ValueError as exc:
        raise ExportError(f"{_what(r, g)}: {exc}") from None
    if not low <= x <= high:
        bound = f"below {low:g}" if x < low else f"above {high:g}"
        raise ExportError(f"{_what(r, g)}: field {name!r} = {r.fields[name]!r} is {bound}")
    return x


def _base(model: str, site: SiteInfo, r: ReadingLike, *parts: str) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": ":".join(("urn:ngsi-ld", model, site.gateway, r.sensor, *parts)),
        "type": model,
        "name": site.name,
        "location": {"type": "Point", "coordinates": [site.longitude, site.latitude]},
        "dataProvider": DATA_PROVIDER,
    }
    where = (site.locality, site.region, site.country)
    keys = ("addressLocality", "addressRegion", "addressCountry")
    address = {k: v for k, v in zip(keys, where, strict=True) if v}
    if address:
        entity["address"] = address
    return entity


def _context(model: str) -> list[str]:
    return [DOMAIN_CONTEXT.format(MODEL_DOMAIN[model]), CORE_CONTEXT]


def _put(entity: dict[str, Any], name: str, value: float | None, scale: float = 1.0) -> None:
    if value is not None:
        entity[name] = round(value * scale, 6)


def device_id(gateway: str, sensor: str) -> str:
    """The NGSI-LD id of the device that made a reading (a Smart Data Models Device)."""
    return f"urn:ngsi-ld:Device:{gateway}:{sensor}"


def air_quality_observed(
    site: SiteInfo, r: ReadingLike, ispu: StationIspu | None = None
) -> dict[str, Any]:
    """AirQualityObserved from an ``air_quality`` reading; *ispu* (the station's ISPU from the
    analytics job) gives ``airQualityIndex`` and ``airQualityLevel`` (the category key)."""
    g = site.gateway
    pm25, pm10 = _get(r, g, "pm25", 0), _get(r, g, "pm10", 0)
    if pm25 is None and pm10 is None:
        raise ExportError(f"{_what(r, g)}: neither field 'pm25' nor 'pm10' is present")
    e = _base("AirQualityObserved", site, r)
    e["dateObserved"] = iso_utc(r.time)
    e["typeofLocation"] = "outdoor"
    if site.locality:
        e["areaServed"] = site.locality
    _put(e, "pm25", pm25)
    _put(e, "pm10", pm10)
    _put(e, "temperature", _get(r, g, "temperature"))
    _put(e, "relativeHumidity", _get(r, g, "humidity", 0, 100), 0.01)
    if ispu is not None:
        e["airQualityIndex"] = math.floor(ispu.index + 0.5)
        e["airQualityLevel"] = ispu.category.key
    e["refDevice"] = device_id(g, r.sensor)
    e["@context"] = _context("AirQualityObserved")
    return e


WEATHER_FIELDS = ("temperature", "humidity", "pressure", "rain", "wind_speed", "wind_direction")


def weather_observed(site: SiteInfo, r: ReadingLike) -> dict[str, Any]:
    """WeatherObserved from a ``weather`` reading (rain in mm = litres per m2; humidity 0-1)."""
    g = site.gateway
    if not any(f in r.fields for f in WEATHER_FIELDS):
        raise ExportError(f"{_what(r, g)}: none of the fields {list(WEATHER_FIELDS)} is present")
    e = _base("WeatherObserved", site, r)
    e["dateObserved"] = iso_utc(r.time)
    _put(e, "temperature", _get(r, g, "temperature"))
    _put(e, "relativeHumidity", _get(r, g, "humidity", 0, 100), 0.01)
    _put(e, "atmosphericPressure", _get(r, g, "pressure", 0))
    _put(e, "precipitation", _get(r, g, "rain", 0))
    _put(e, "windSpeed", _get(r, g, "wind_speed", 0))
    _put(e, "windDirection", _get(r, g, "wind_direction", 0, 360))
    e["refDevice"] = device_id(g, r.sensor)
    e["@context"] = _context("WeatherObserved")
    return e


def _lane(site: SiteInfo, r: ReadingLike, e: dict[str, Any]) -> list[str]:
    """Lane and direction attributes, and the id parts that tell lanes apart."""
    lane, direction = r.tags.get("lane"), r.tags.get("direction")
    if lane is None:
        raise ExportError(f"{_what(r, site.gateway)}: tag 'lane' is missing")
    if not lane.isdigit() or int(lane) < 1:
        raise ExportError(f"{_what(r, site.gateway)}: lane {lane!r} is not a number >= 1")
    e["laneId"] = int(lane)
    if direction is None:
        return [f"lane{int(lane)}"]
    forward = site.forward_direction
    if forward is not None and direction in (forward, OPPOSITE[forward]):
        e["laneDirection"] = "forward" if direction == forward else "backward"
    return [f"lane{int(lane)}", direction]


def traffic_flow_observed(site: SiteInfo, r: ReadingLike) -> dict[str, Any]:
    """TrafficFlowObserved from ``traffic_flow`` (a lane and direction), ``traffic`` (one
    vehicle class of a lane) or ``traffic_segment`` (the whole segment) readings.

    ``intensity`` is the vehicles counted in the reading's interval; ``congested`` is true when
    the degree of saturation is past PKJI's design limit (DJ > 0.85), false at or below it, and
    absent when the reading has no degree of saturation.
    """
    g = site.gateway
    e = _base("TrafficFlowObserved", site, r)
    parts = [] if r.measurement == "traffic_segment" else _lane(site, r, e)
    raw = r.tags.get("vehicle_class")
    if r.measurement == "traffic" and raw is not None:
        try:
            pkji = class_key(raw)
        except ValueError as exc:
            raise ExportError(f"{_what(r, g)}: {exc}") from None
        e["vehicleType"] = VEHICLE_TYPE[pkji]
        e["vehicleSubType"] = pkji
        parts.append(pkji)
    e["id"] = ":".join([e["id"], *parts])
    e["dateObserved"] = iso_utc(r.time)
    _put(e, "intensity", _get(r, g, "count", 0, need=True))
    _put(e, "occupancy", _get(r, g, "occupancy", 0, 1))
    _put(e, "averageVehicleSpeed", _get(r, g, "speed_mean", 0))
    _put(e, "averageHeadwayTime", _get(r, g, "headway_mean", 0))
    ds = _get(r, g, "degree_of_saturation", 0)
    if ds is not None:
        e["congested"] = not within_design_limit(ds)
    e["@context"] = _context("TrafficFlowObserved")
    return e


_TO_METRES = {"cm": 0.01, "m": 1.0}


def flood_monitoring(site: SiteInfo, r: ReadingLike) -> dict[str, Any]:
    """FloodMonitoring from a ``water_level`` reading (levels in cm) and the site's ladder.

    Levels go out in metres, as the model's examples give them. ``floodLevelStatus`` is the
    ladder's key for the level (no hysteresis: one reading, one status); ``alertLevel`` is the
    ladder's first threshold, ``dangerLevel`` its last; ``referenceLevel`` = level + distance
    (the sensor's height above the datum) when the reading has both.
    """
    g = site.gateway
    level = _get(r, g, "level", need=True)
    assert level is not None
    distance = _get(r, g, "distance", 0)
    ladder = site.flood_ladder
    if ladder.unit not in _TO_METRES:
        raise ExportError(f"site {g!r}: flood ladder unit {ladder.unit!r} is not cm or m")
    e = _base("FloodMonitoring", site, r)
    e["observationDateTime"] = iso_utc(r.time)
    e["stationID"] = g
    _put(e, "currentLevel", level, 0.01)
    _put(e, "measuredDistance", distance, 0.01)
    if distance is not None:
        _put(e, "referenceLevel", level + distance, 0.01)
    to_m = _TO_METRES[ladder.unit]
    _put(e, "alertLevel", ladder.steps[0].threshold, to_m)
    _put(e, "dangerLevel", ladder.steps[-1].threshold, to_m)
    e["floodLevelStatus"] = ladder.key_of(level * 0.01 / to_m)
    e["@context"] = _context("FloodMonitoring")
    return e


#: measurement -> Smart Data Model it is exported as.
MODEL_OF: Mapping[str, str] = {
    "air_quality": "AirQualityObserved",
    "weather": "WeatherObserved",
    "traffic_flow": "TrafficFlowObserved",
    "traffic": "TrafficFlowObserved",
    "traffic_segment": "TrafficFlowObserved",
    "water_level": "FloodMonitoring",
}
MODELS: tuple[str, ...] = tuple(sorted(set(MODEL_OF.values())))


def entity(
    site: SiteInfo, r: ReadingLike, ispu: StationIspu | None = None
) -> dict[str, Any] | None:
    """The entity of one reading, or None if its measurement is not exported (e.g.
    ``gateway_health``). Raises :class:`ExportError` for a reading that cannot be exported."""
    model = MODEL_OF.get(r.measurement)
    if model == "AirQualityObserved":
        return air_quality_observed(site, r, ispu)
    return _BUILDERS[model](site, r) if model else None


_BUILDERS: Mapping[str, Callable[[SiteInfo, ReadingLike], dict[str, Any]]] = {
    "WeatherObserved": weather_observed,
    "TrafficFlowObserved": traffic_flow_observed,
    "FloodMonitoring": flood_monitoring,
}


_Stored = namedtuple("_Stored", "sensor measurement time fields tags")


def from_point(point: Any) -> tuple[str, ReadingLike]:
    """(gateway, reading) of a stored point (``telemetry.mapping.Point``, as the store's read
    interface returns them: tags ``gateway`` and ``sensor`` beside the reading's own)."""
    tags = dict(point.tags)
    gateway, sensor = tags.pop("gateway", ""), tags.pop("sensor", "")
    fields = {k: v for k, v in point.fields.items() if not isinstance(v, str)}
    return gateway, _Stored(sensor, point.measurement, point.time_ms, fields, tags)


def export(
    readings: Iterable[tuple[str, ReadingLike]],
    sites: Mapping[str, SiteInfo],
    *,
    types: Iterable[str] | None = None,
    ispu: Mapping[str, StationIspu] | None = None,
) -> Export:
    """Entities of (gateway, reading) pairs: the newest per entity id, sorted by id.

    *types* keeps only those models (names in :data:`MODELS`; unknown names are refused);
    *ispu* maps a gateway to its station ISPU. Readings of gateways without a site, and
    readings :func:`entity` refuses, are left out and described in ``problems``.
    """
    wanted = set(MODELS if types is None else types)
    unknown = sorted(wanted - set(MODELS))
    if unknown:
        raise ValueError(f"unknown entity type(s) {unknown}; known: {list(MODELS)}")
    newest: dict[str, tuple[int, dict[str, Any]]] = {}
    problems: list[str] = []
    for gateway, r in readings:
        if MODEL_OF.get(r.measurement) not in wanted:
            continue
        site = sites.get(gateway)
        if site is None:
            problems.append(f"{_what(r, gateway)}: no site is known for gateway {gateway!r}")
            continue
        try:
            e = entity(site, r, (ispu or {}).get(gateway))
        except ExportError as exc:
            problems.append(str(exc))
            continue
        assert e is not None
        if e["id"] not in newest or newest[e["id"]][0] < r.time:
            newest[e["id"]] = (r.time, e)
    return Export([newest[k][1] for k in sorted(newest)], problems)
