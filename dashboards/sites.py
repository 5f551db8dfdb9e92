"""The registry's sites copied into InfluxDB, for Grafana: ``jagajalan_site`` points.

One point per gateway with a site: tags ``kecamatan``, ``site`` (the site id), ``gateway``;
fields ``name`` (the site's name), ``latitude``, ``longitude``. The dashboards' template
variables read the tags (dashboards/common.py) and the site map the coordinates. Run
``jagajalan dashboards sites`` after every change of the registry's sites, and at least once
per raw retention period (90 days by default; daily is cheap): the points go to the default
retention policy like every other, so a site not written again for that long leaves the
variables and the map. Each run writes the points again at the current time, and the map
reads each gateway's newest.

:func:`site_points` is pure; :func:`copy_sites` reads the registry and writes the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry.facts import SiteFacts
from telemetry.mapping import Point
from telemetry.models import SITE_MEASUREMENT


def site_points(facts: Iterable[SiteFacts], time_ms: int) -> list[Point]:
    return [
        Point(
            SITE_MEASUREMENT,
            {"gateway": f.gateway, "kecamatan": f.kecamatan, "site": f.site},
            {"latitude": float(f.latitude), "longitude": float(f.longitude), "name": f.name},
            time_ms,
        )
        for f in sorted(facts, key=lambda f: f.gateway)
        if f.kecamatan
    ]


def copy_sites(engine: Any, store: Any, time_ms: int) -> int:
    """Write the registry's sites (through *engine*) to *store*; the number of points."""
    from registry.facts import gateway_sites

    points = site_points(gateway_sites(engine).values(), time_ms)
    if points:
        store.write(points)
    return len(points)
