"""``GET /ngsi-ld/v1/entities``: the newest readings as FIWARE Smart Data Models entities
(NGSI-LD keyValues), for open-data portals and integrators (issue 11, section 5).

The entities are :mod:`analytics.ngsild`'s (validated against the models' published schemas),
built per request from the registry's sites (name, place, kecamatan, flood ladder) and the
newest point of each series of the exported measurements, one store call for all of them
(:meth:`store.StoreReader.newest_of`); AirQualityObserved carries the hourly ISPU the
analytics job computed (``jagajalan_ispu_hourly``). Readings of gateways that no site of the
registry holds are left out. ``type`` (one or more, comma-separated) and ``id`` filter; an
unknown type is a 400 naming it. The answer is ``application/ld+json`` (each entity with its
``@context``), or ``application/json`` when that is what the client accepts.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from analytics import flood, ispu, ngsild
from api.deps import RegistryDep, StoreDep
from api.errors import (
    BAD_PARAMETER,
    INVALID_REQUEST,
    REGISTRY_ERRORS,
    STORE_ERRORS,
    InvalidParameter,
)
from registry.read import SiteRecord
from telemetry.models import ISPU_HOURLY_MEASUREMENT

log = logging.getLogger("api")
router = APIRouter(tags=["ngsi-ld"])

LD_JSON = "application/ld+json"
REGION = "Kabupaten Sarolangun, Jambi"
MEASUREMENTS = tuple(ngsild.MODEL_OF)
EXAMPLE = [
    {
        "id": "urn:ngsi-ld:FloodMonitoring:srl-pasar-01:wl1",
        "type": "FloodMonitoring",
        "name": "Jl. Lintas Sumatera, Pasar Sarolangun",
        "location": {"type": "Point", "coordinates": [102.7045, -2.2985]},
        "dataProvider": "JagaJalan",
        "address": {
            "addressLocality": "Sarolangun",
            "addressRegion": REGION,
            "addressCountry": "ID",
        },
        "observationDateTime": "2025-11-30T08:00:00Z",
        "stationID": "srl-pasar-01",
        "currentLevel": 0.125,
        "alertLevel": 0.1,
        "dangerLevel": 0.3,
        "floodLevelStatus": "waspada",
        "@context": [
            "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
            "context.jsonld",
            ngsild.CORE_CONTEXT,
        ],
    }
]
ENTITIES = {"type": "array", "items": {"type": "object"}}

TypeParam = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[A-Za-z][A-Za-z0-9]*(,[A-Za-z][A-Za-z0-9]*)*$",
        description="entity type(s), comma-separated: " + ", ".join(ngsild.MODELS) + "; unset: all",
        examples=["FloodMonitoring"],
    ),
]
IdParam = Annotated[
    str | None,
    Query(
        max_length=2000,
        pattern=r"^urn:ngsi-ld:[^,\s]+(,urn:ngsi-ld:[^,\s]+)*$",
        description="only the entities with these ids (comma-separated)",
        examples=["urn:ngsi-ld:FloodMonitoring:srl-pasar-01:wl1"],
    ),
]
OptionsParam = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=r"^[A-Za-z,]+$",
        description="keyValues (the one representation served); unset: the same",
        examples=["keyValues"],
    ),
]


def ladder(site: SiteRecord) -> flood.Ladder:
    """The site's ladder from the registry (the project defaults when it has none)."""
    if site.flood is None:
        return flood.ROAD_STATUS
    values = [t.value for t in site.flood.thresholds]
    if site.flood.kind == "river_gauge":
        return flood.river_gauge(site.name, *values)
    keys = [t.status for t in site.flood.thresholds]
    return flood.ladder_from_levels(site.name, dict(zip(keys, values, strict=True)), "cm")


def site_infos(sites: list[SiteRecord]) -> dict[str, ngsild.SiteInfo]:
    out = {}
    for s in sites:
        for g in s.gateways:
            out[g.id] = ngsild.SiteInfo(
                g.id, s.name, s.latitude, s.longitude, s.kecamatan, REGION, flood_ladder=ladder(s)
            )
    return out


def station_ispu(points: list[Any]) -> dict[str, ispu.StationIspu]:
    """gateway -> the newest hourly ISPU the analytics job wrote for it."""
    out: dict[str, tuple[int, ispu.StationIspu]] = {}
    for p in points:
        index, gateway = p.fields.get("ispu"), p.tags.get("gateway", "")
        if not isinstance(index, int | float) or index < 0:
            continue
        if gateway in out and out[gateway][0] >= p.time_ms:
            continue
        station = ispu.StationIspu(
            float(index), str(p.fields.get("dominant", "")), ispu.category(float(index)), {}
        )
        out[gateway] = (p.time_ms, station)
    return {g: s for g, (_, s) in out.items()}


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@router.get(
    "/ngsi-ld/v1/entities",
    summary="The newest readings as NGSI-LD entities (FIWARE Smart Data Models, keyValues)",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "the entities, newest per id, sorted by id",
            "content": {
                LD_JSON: {"schema": ENTITIES, "example": EXAMPLE},
                "application/json": {"schema": ENTITIES, "example": EXAMPLE},
            },
        },
        **BAD_PARAMETER,
        **INVALID_REQUEST,
        **STORE_ERRORS,
        **REGISTRY_ERRORS,
    },
)
def entities(
    request: Request,
    registry: RegistryDep,
    store: StoreDep,
    type: TypeParam = None,
    id: IdParam = None,
    options: OptionsParam = None,
) -> JSONResponse:
    """AirQualityObserved (with the hourly ISPU), WeatherObserved, TrafficFlowObserved (per
    lane, vehicle class and segment) and FloodMonitoring (on the site's ladder), one entity
    per observed thing with its newest values. docs/opendata.md explains the mapping."""
    types = _split(type)
    unknown = sorted(set(types or ()) - set(ngsild.MODELS))
    if unknown:
        raise InvalidParameter(
            "type",
            type,
            f"unknown entity type {', '.join(unknown)}; known: " + ", ".join(ngsild.MODELS),
        )
    if options not in (None, "keyValues"):
        raise InvalidParameter("options", options, "only keyValues is served")
    infos = site_infos(registry.sites())
    newest = store.newest_of([*MEASUREMENTS, ISPU_HOURLY_MEASUREMENT])
    readings = [ngsild.from_point(p) for m in MEASUREMENTS for p in newest[m]]
    done = ngsild.export(
        readings, infos, types=types, ispu=station_ispu(newest[ISPU_HOURLY_MEASUREMENT])
    )
    if done.problems:
        log.debug(
            "NGSI-LD: %d reading(s) left out, first: %s", len(done.problems), done.problems[0]
        )
    wanted = _split(id)
    found = [e for e in done.entities if wanted is None or e["id"] in wanted]
    accept = request.headers.get("accept", "")
    plain = "application/json" in accept and LD_JSON not in accept
    return JSONResponse(found, media_type="application/json" if plain else LD_JSON)
