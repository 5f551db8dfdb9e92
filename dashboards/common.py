"""What every JagaJalan dashboard shares: the template variables and the query pieces.

The template variables (kecamatan, site, gateway) read the tags of ``jagajalan_site``, the
registry's sites copied into InfluxDB by ``jagajalan dashboards sites`` (dashboards/sites.py).
Why there and not in the registry itself: the registry lives in SQLite or PostgreSQL, and
Grafana would then need a second data source with its own credentials (and Grafana has no
SQLite data source at all); one point per gateway in InfluxDB keeps Grafana on its one
read-only InfluxDB user. The variables chain: ``site`` lists the sites of the chosen
kecamatan, ``gateway`` the gateways of the chosen sites; every panel filters on
``gateway`` only (the one tag every measurement has), which the chain narrows.

Raw data and rollups: panels that follow the dashboard's range read the raw points (kept 90
days by default); each dashboard's trend row reads ``rollup_1h`` (kept forever, fields
``mean_<f>``, ``max_<f>``, ``sum_<f>``: store/retention.py) over a fixed 30 days, never below
one-hour intervals. Pure: no I/O.
"""

from __future__ import annotations

from dashboards.model import Threshold, Variable
from kernel.text import tr
from store.influxql import quote_ident
from store.retention import ROLLUPS
from telemetry.models import SITE_MEASUREMENT

GATEWAY = '"gateway" =~ /^$gateway$/'
WHERE = f"WHERE $timeFilter AND {GATEWAY}"
ROLLUP_1H = ROLLUPS["1h"]
TREND_RANGE = "30d"
TREND_INTERVAL = "1h"
LEGEND = {"calcs": ["mean", "max"], "displayMode": "table", "placement": "right"}


def variables(lang: str) -> tuple[Variable, ...]:
    site = quote_ident(SITE_MEASUREMENT)
    return (
        Variable(
            "kecamatan",
            tr("dash.var.kecamatan", lang),
            f'SHOW TAG VALUES FROM {site} WITH KEY = "kecamatan"',
        ),
        Variable(
            "site",
            tr("dash.var.site", lang),
            f'SHOW TAG VALUES FROM {site} WITH KEY = "site" WHERE "kecamatan" =~ /^$kecamatan$/',
        ),
        Variable(
            "gateway",
            tr("dash.var.gateway", lang),
            f'SHOW TAG VALUES FROM {site} WITH KEY = "gateway" '
            'WHERE "kecamatan" =~ /^$kecamatan$/ AND "site" =~ /^$site$/',
        ),
    )


def series(select: str, measurement: str, group: str = "time($__interval)") -> str:
    """A per-gateway series of the raw points: ``SELECT <select> FROM <measurement> ...``."""
    return (
        f"SELECT {select} FROM {quote_ident(measurement)} {WHERE} "
        f'GROUP BY {group}, "gateway" fill(none)'
    )


def trend(select: str, measurement: str) -> str:
    """The same from the one-hour rollup."""
    source = f"{quote_ident(ROLLUP_1H)}.{quote_ident(measurement)}"
    return f'SELECT {select} FROM {source} {WHERE} GROUP BY time($__interval), "gateway" fill(none)'


def latest(select: str, measurement: str) -> str:
    """The newest value per gateway in the range (for stat panels, tables and the map)."""
    return f'SELECT {select} FROM {quote_ident(measurement)} {WHERE} GROUP BY "gateway"'


def steps(*pairs: tuple[str, float | None]) -> tuple[Threshold, ...]:
    return tuple(Threshold(color, value) for color, value in pairs)
