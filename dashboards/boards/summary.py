"""Ringkasan Kabupaten: the district at a glance. A row of counts (gateways online and
reporting, active and critical alerts), a map of the sites coloured by gateway state, flood
level and ISPU category, and the latest status of every site.

The map's base layer works without internet by default: the country outlines that Grafana
itself serves (``public/maps/countries.geojson``), under the sites' markers. A district
server with its own tile server generates the dashboards with ``--tiles URL``
(``jagajalan dashboards generate --tiles 'http://tiles.local/{z}/{x}/{y}.png' --out ...``),
which makes that XYZ layer the base. Sites and coordinates come from ``jagajalan_site``
(the registry's copy; not limited to the time range: a site is on the map whatever the range);
the states are each gateway's newest in the range. The alerts service (alerts/) keeps its
alerts in the registry's database, which Grafana's one InfluxDB data source does not read; its
acting instance writes the open alerts' counts per severity into InfluxDB after every
evaluation (``jagajalan_alerts_active``, alerts/gauge.py), which the two alert stats read: the
newest count of each severity in the range, summed (district-wide: alerts are not filtered by
the gateway variable). The map's warnings are the indicators' own: a site's flood level above
normal and its ISPU category, the measurements the alert rules read too.
"""

from __future__ import annotations

from typing import Any

from analytics import ispu
from dashboards import common
from dashboards.common import GATEWAY, WHERE, latest, steps
from dashboards.model import Dashboard, Panel, Query, ValueText
from kernel.text import tr
from telemetry.models import (
    ALERTS_ACTIVE_MEASUREMENT,
    FLOOD_STATUS_MEASUREMENT,
    ISPU_HOURLY_MEASUREMENT,
    SITE_MEASUREMENT,
)
from telemetry.models import STATUS_MEASUREMENT as STATUS

#: The district's centre (Kabupaten Sarolangun, simulators/sites.py) and a zoom that shows it.
CENTRE = (-2.30, 102.70)
ZOOM = 9
OFFLINE_CONFIG = {
    "rules": [],
    "src": "public/maps/countries.geojson",
    "style": {"color": {"fixed": "#8f8f8f"}, "opacity": 0.4},
}
STATE_FIELD, ISPU_FIELD, FLOOD_FIELD = "status", "kategori_ispu", "tingkat_banjir"


def site_query() -> str:
    return (
        'SELECT last("latitude") AS "latitude", last("longitude") AS "longitude", '
        f'last("name") AS "nama" FROM "{SITE_MEASUREMENT}" WHERE {GATEWAY} '
        'GROUP BY "gateway", "kecamatan"'
    )


def _state_queries() -> tuple[Query, ...]:
    return (
        Query(site_query(), result_format="table"),
        Query(latest(f'last("state") AS "{STATE_FIELD}"', STATUS), result_format="table"),
        Query(
            latest(f'last("category_code") AS "{ISPU_FIELD}"', ISPU_HOURLY_MEASUREMENT),
            result_format="table",
        ),
        Query(
            latest(f'last("level_code") AS "{FLOOD_FIELD}"', FLOOD_STATUS_MEASUREMENT),
            result_format="table",
        ),
    )


def _join() -> tuple[dict[str, Any], ...]:
    return (
        {"id": "joinByField", "options": {"byField": "gateway", "mode": "outer"}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {
                    "Time": True,
                    "Time 1": True,
                    "Time 2": True,
                    "Time 3": True,
                    "Time 4": True,
                }
            },
        },
    )


def _colours(lang: str) -> tuple[dict[str, Any], ...]:
    online, offline = tr("dash.gw.online", lang), tr("dash.gw.offline", lang)
    state = [
        ValueText(online, "green", value="online").to_dict(0),
        ValueText(offline, "red", value="offline").to_dict(1),
    ]
    air = [
        ValueText(c.label(lang), c.colour, value=str(i)).to_dict(i)
        for i, c in enumerate(ispu.CATEGORIES)
    ]
    flood = [ValueText(tr("dash.flood.normal", lang), "green", value="0").to_dict(0)] + [
        ValueText(tr("dash.summary.flood_step", lang, step=n), colour, value=str(n)).to_dict(n)
        for n, colour in ((1, "yellow"), (2, "orange"), (3, "red"))
    ]
    names = {
        STATE_FIELD: ("dash.summary.col.state", state),
        ISPU_FIELD: ("dash.summary.col.ispu", air),
        FLOOD_FIELD: ("dash.summary.col.flood", flood),
        "nama": ("dash.summary.col.name", []),
        "kecamatan": ("dash.var.kecamatan", []),
    }
    out = []
    for field, (key, mappings) in names.items():
        props: list[dict[str, Any]] = [{"id": "displayName", "value": tr(key, lang)}]
        if mappings:
            props += [
                {"id": "mappings", "value": mappings},
                {"id": "color", "value": {"mode": "thresholds"}},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ]
        out.append({"matcher": {"id": "byName", "options": field}, "properties": props})
    return tuple(out)


def _layer(lang: str, key: str, field: str, size: int) -> dict[str, Any]:
    return {
        "config": {
            "showLegend": True,
            "style": {
                "color": {"field": field, "fixed": "blue"},
                "opacity": 0.9,
                "size": {"fixed": size},
                "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                "text": {"field": "nama", "mode": "field"},
                "textConfig": {"fontSize": 10, "offsetY": -14, "textAlign": "center"},
            },
        },
        "location": {"latitude": "latitude", "longitude": "longitude", "mode": "coords"},
        "name": tr(key, lang),
        "tooltip": True,
        "type": "markers",
    }


def base_layer(lang: str, tiles: str | None) -> dict[str, Any]:
    name = tr("dash.summary.base", lang)
    if not tiles:
        return {"config": OFFLINE_CONFIG, "name": name, "type": "geojson"}
    return {"config": {"attribution": "", "url": tiles}, "name": name, "type": "xyz"}


def alerts_query(severities: str = "") -> str:
    """The open alerts: the newest count of each severity in the range, summed; only the
    severities matching the regular expression *severities* when given."""
    where = f' AND "severity" =~ /^({severities})$/' if severities else ""
    newest = (
        f'SELECT last("active") AS "active" FROM "{ALERTS_ACTIVE_MEASUREMENT}" '
        f'WHERE $timeFilter{where} GROUP BY "severity"'
    )
    return f'SELECT sum("active") AS "active" FROM ({newest})'


def build(lang: str = "id", tiles: str | None = None) -> Dashboard:
    last = f'SELECT last("state") AS "state" FROM "{STATUS}" {WHERE} GROUP BY "gateway"'
    online = f'SELECT count("state") FROM ({last}) WHERE "state" = \'online\''
    reporting = f'SELECT count("state") FROM ({last})'
    stat = {
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "center",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "value",
    }
    geomap = Panel(
        tr("dash.summary.map", lang),
        "geomap",
        _state_queries(),
        width=16,
        height=16,
        description=tr("dash.summary.map.about", lang),
        transformations=_join(),
        overrides=_colours(lang),
        options={
            "basemap": base_layer(lang, tiles),
            "controls": {
                "mouseWheelZoom": True,
                "showAttribution": True,
                "showScale": True,
                "showZoom": True,
            },
            "layers": [
                _layer(lang, "dash.summary.col.flood", FLOOD_FIELD, 22),
                _layer(lang, "dash.summary.col.ispu", ISPU_FIELD, 15),
                _layer(lang, "dash.summary.col.state", STATE_FIELD, 8),
            ],
            "tooltip": {"mode": "details"},
            "view": {
                "allLayers": True,
                "id": "coords",
                "lat": CENTRE[0],
                "lon": CENTRE[1],
                "zoom": ZOOM,
            },
        },
    )
    return Dashboard(
        uid="jagajalan-ringkasan-kabupaten",
        title=tr("dash.summary.title", lang),
        description=tr("dash.summary.about", lang),
        variables=common.variables(lang),
        items=(
            Panel(
                tr("dash.summary.online", lang),
                "stat",
                (Query(online),),
                width=6,
                height=5,
                description=tr("dash.summary.online.about", lang),
                color_mode="fixed",
                no_value="0",
                options=stat,
            ),
            Panel(
                tr("dash.summary.reporting", lang),
                "stat",
                (Query(reporting),),
                width=6,
                height=5,
                description=tr("dash.summary.reporting.about", lang),
                color_mode="fixed",
                no_value="0",
                options=stat,
            ),
            Panel(
                tr("dash.summary.alerts", lang),
                "stat",
                (Query(alerts_query()),),
                width=6,
                height=5,
                description=tr("dash.summary.alerts.about", lang),
                thresholds=steps(("green", None), ("orange", 1)),
                color_mode="thresholds",
                options=stat,
            ),
            Panel(
                tr("dash.summary.critical", lang),
                "stat",
                (Query(alerts_query("critical")),),
                width=6,
                height=5,
                description=tr("dash.summary.critical.about", lang),
                thresholds=steps(("green", None), ("red", 1)),
                color_mode="thresholds",
                options=stat,
            ),
            geomap,
            Panel(
                tr("dash.summary.table", lang),
                "table",
                _state_queries(),
                width=8,
                height=16,
                description=tr("dash.summary.table.about", lang),
                transformations=_join(),
                overrides=_colours(lang),
                options={"showHeader": True},
            ),
        ),
    )
