"""``GET /sites``, ``GET /sites/latest`` and ``GET /sites/{site}``: the registry's sites, and
the whole district's state in one call (api/sites.py builds the answers).

``/sites/latest`` asks the registry once (cached a few seconds, registry/read.py) and the store
three times whatever the number of sites: the gateways' states, the newest readings, and the
newest point of each of the three indicators (one :meth:`store.StoreReader.newest_of` call).
Without a registry these routes answer 503 ``registry_unavailable`` saying how to give one.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.deps import RegistryDep, StoreDep
from api.errors import INVALID_REQUEST, REGISTRY_ERRORS, STORE_ERRORS
from api.latest_cache import answer
from api.models import ErrorResponse
from api.sites import INDICATORS, District, SitePublic, district, site_public

router = APIRouter(prefix="/sites", tags=["sites"])

SitePath = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="site id (the registry's: lower-case letters, digits, '-')",
        examples=["pasar-sarolangun"],
    ),
]
LATEST_EXAMPLE = {
    "time": "2025-11-30T08:05:00.000Z",
    "time_wib": "2025-11-30T15:05:00.000+07:00",
    "sites": [
        {
            "id": "pasar-sarolangun",
            "name": "Jl. Lintas Sumatera, Pasar Sarolangun",
            "road": "Jl. Lintas Sumatera",
            "kecamatan": "Sarolangun",
            "latitude": -2.2985,
            "longitude": 102.7045,
            "gateways": [
                {
                    "id": "srl-pasar-01",
                    "online": True,
                    "last_seen": "2025-11-30T08:04:05.123Z",
                    "last_seen_wib": "2025-11-30T15:04:05.123+07:00",
                }
            ],
            "online": True,
            "flood": {
                "status": "waspada",
                "code": 1,
                "level": 12.5,
                "unit": "cm",
                "time": "2025-11-30T07:55:00.000Z",
                "time_wib": "2025-11-30T14:55:00.000+07:00",
            },
            "air": {
                "ispu": 112.4,
                "category": "tidak_sehat",
                "colour": "#ffff00",
                "dominant": "pm25",
                "time": "2025-11-30T07:00:00.000Z",
                "time_wib": "2025-11-30T14:00:00.000+07:00",
            },
            "traffic": {
                "los": "C",
                "ds": 0.62,
                "flow_smp_per_hour": 1426.0,
                "time": "2025-11-30T08:00:00.000Z",
                "time_wib": "2025-11-30T15:00:00.000+07:00",
            },
            "latest": [
                {
                    "gateway": "srl-pasar-01",
                    "sensor": "wl1",
                    "measurement": "water_level",
                    "tags": {},
                    "field": "level",
                    "value": 12.5,
                    "unit": "cm",
                    "time": "2025-11-30T08:04:00.000Z",
                    "time_wib": "2025-11-30T15:04:00.000+07:00",
                }
            ],
        }
    ],
}


@router.get(
    "",
    response_model=list[SitePublic],
    summary="Sites of the registry: place, road, capacity, flood ladder, gateways, sensors",
    responses=REGISTRY_ERRORS,
)
def list_sites(registry: RegistryDep) -> list[SitePublic]:
    """Every site of the registry, by id, with its gateways (by id) and their sensors. The
    facts only; their state now is ``GET /sites/latest``."""
    return [site_public(s) for s in registry.sites()]


@router.get(
    "/latest",
    response_model=District,
    summary="The whole district now: per site gateways online, flood, ISPU, traffic, values",
    responses={
        **STORE_ERRORS,
        **REGISTRY_ERRORS,
        200: {"content": {"application/json": {"example": LATEST_EXAMPLE}}},
    },
)
def latest_sites(request: Request, registry: RegistryDep, store: StoreDep) -> Response:
    """Every site of the registry with its gateways' state (``online``: all online true, one
    offline false, else null), the newest flood status on the site's ladder (road_depth:
    normal/waspada/siaga/awas; river_gauge: normal/siaga_3/siaga_2/siaga_1), the newest hourly
    ISPU and the newest traffic interval as the analytics job computed them (null when it has
    none for the site), and the newest value of every field its gateways sent. One call for
    the whole district: a bounded number of store queries whatever the number of sites."""

    def build() -> bytes:
        sites = registry.sites()
        now_ms = int(time.time() * 1000)
        gateways, latest = store.gateways(), store.latest()
        found = district(sites, gateways, latest, store.newest_of(INDICATORS), now_ms)
        # Serialised once, here: FastAPI would validate the thousands of values again.
        return found.model_dump_json().encode()

    # With the latest values in memory, built by their refresher (registry read included),
    # not while a request waits: a changed site shows at the next refresh.
    return answer(request, "sites", build)


@router.get(
    "/{site}",
    response_model=SitePublic,
    summary="One site of the registry, with its gateways and sensors",
    responses={
        404: {"model": ErrorResponse, "description": "no such site"},
        **INVALID_REQUEST,
        **REGISTRY_ERRORS,
    },
)
def get_site(site: SitePath, registry: RegistryDep) -> SitePublic:
    """The entry of ``GET /sites`` for one site; 404 if the registry has no such site."""
    found = registry.site(site)
    if found is None:
        raise HTTPException(404, f"the registry has no site {site!r} (see GET /sites)")
    return site_public(found)
