"""What other components read from the registry: each gateway's site, as plain values.

The indicators job takes a site's capacity and flood ladder from here (indicators/sites.py),
so the numbers an admin sets in the registry are the ones the indicators use. Reading needs
SELECT on ``sites`` and ``gateways`` only. Nothing here imports another component.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from registry.models import Gateway, Site

#: The registry's unit of each ladder's thresholds (registry/document.py: ``*_cm``, ``*_m``).
LADDER_UNITS = {"road_depth": "cm", "river_gauge": "m"}


@dataclass(frozen=True)
class SiteFacts:
    """One gateway's site. ``flood`` is the ladder's kind and its three rising thresholds in
    :data:`LADDER_UNITS` of the kind, or None when the site has no flood ladder."""

    gateway: str
    site: str
    name: str
    kecamatan: str
    latitude: float
    longitude: float
    capacity_smp_per_hour: float | None
    flood: tuple[str, float, float, float] | None


def gateway_sites(engine: Engine) -> dict[str, SiteFacts]:
    """Every gateway that has a site, by gateway id (one query)."""
    query = select(Gateway.id, Site).join(Site, Gateway.site_id == Site.id).order_by(Gateway.id)
    out: dict[str, SiteFacts] = {}
    with Session(engine) as session:
        for gateway, site in session.execute(query):
            flood = None
            if site.flood_ladder is not None and None not in (
                site.flood_1,
                site.flood_2,
                site.flood_3,
            ):
                flood = (site.flood_ladder, site.flood_1, site.flood_2, site.flood_3)
            out[gateway] = SiteFacts(
                gateway=gateway,
                site=site.id,
                name=site.name,
                kecamatan=site.kecamatan,
                latitude=site.latitude,
                longitude=site.longitude,
                capacity_smp_per_hour=site.capacity_smp_per_hour,
                flood=flood,  # type: ignore[arg-type]
            )
    return out
