"""Banjir & Cuaca: water level against the flood ladder, each site's flood status, rain and
its intensity, road-surface temperature and water film.

Sources: ``water_level`` (``level``, cm), ``weather`` (``rain``, mm in the interval),
``road_surface`` (``surface_temperature``, ``water_film``) and ``jagajalan_flood_status``
(the indicators job: each site's ``level`` on its own ladder from the registry). The lines
on the water-level graph are the project's road-depth ladder (analytics/flood.py
ROAD_DEPTH: 10, 20, 30 cm); a site with a ladder of its own (a river gauge) shows its level
by name in the status timeline, computed on that ladder. Rain intensity is derived from the
rain in each interval (mm per interval scaled to an hour), so stations without an intensity
field have it too.
"""

from __future__ import annotations

from analytics import flood
from dashboards import common
from dashboards.common import LEGEND, TREND_INTERVAL, TREND_RANGE, WHERE, series, trend
from dashboards.model import Dashboard, Panel, Query, Row, Threshold, ValueText
from kernel.text import tr
from telemetry.models import FLOOD_STATUS_MEASUREMENT as STATUS

ALIAS = "$tag_gateway"
TOOLTIP = {"mode": "multi", "sort": "desc"}
#: Colours of the first, second and third step of any ladder (and of normal).
STEP_COLOURS = ("green", "yellow", "orange", "red")
#: Ladders whose level keys the status timeline names (the indicators' and simulators').
LADDERS = (
    ("hati_hati", "bahaya_motor", "tidak_dapat_dilalui"),
    ("waspada", "siaga", "awas"),
    ("siaga_3", "siaga_2", "siaga_1"),
)


def _levels(lang: str) -> tuple[ValueText, ...]:
    out = [ValueText(tr("dash.flood.normal", lang), STEP_COLOURS[0], value="normal")]
    for keys in LADDERS:
        for rank, key in enumerate(keys, start=1):
            label_id, label_en = flood.KNOWN_LABELS[key]
            out.append(
                ValueText(label_en if lang == "en" else label_id, STEP_COLOURS[rank], value=key)
            )
    return tuple(out)


def _panel(lang: str, key: str, queries: tuple[Query, ...], **kw: object) -> Panel:
    kw.setdefault("options", {"legend": LEGEND, "tooltip": TOOLTIP})
    return Panel(tr(key, lang), "timeseries", queries, description=tr(f"{key}.about", lang), **kw)


def build(lang: str = "id", tiles: str | None = None) -> Dashboard:
    """The dashboard in *lang* (*tiles*: for the map of the summary only)."""
    steps = enumerate(flood.ROAD_DEPTH.steps, start=1)
    ladder = (
        Threshold(STEP_COLOURS[0]),
        *(Threshold(STEP_COLOURS[i], s.threshold) for i, s in steps),
    )
    status = Panel(
        tr("dash.flood.status", lang),
        "state-timeline",
        (
            Query(
                f'SELECT last("level") FROM "{STATUS}" {WHERE} '
                'GROUP BY time($__interval), "gateway" fill(none)',
                ALIAS,
            ),
        ),
        width=24,
        description=tr("dash.flood.status.about", lang),
        mappings=_levels(lang),
        color_mode="thresholds",
        options={"mergeValues": True, "showValue": "auto", "rowHeight": 0.8},
    )
    intensity = (
        'SELECT sum("rain") * 3600000 / $__interval_ms FROM "weather" '
        f'{WHERE} GROUP BY time($__interval), "gateway" fill(none)'
    )
    return Dashboard(
        uid="jagajalan-banjir-cuaca",
        title=tr("dash.flood.title", lang),
        description=tr("dash.flood.about", lang),
        variables=common.variables(lang),
        items=(
            _panel(
                lang,
                "dash.flood.level",
                (Query(series('mean("level")', "water_level"), ALIAS),),
                width=24,
                decimals=1,
                thresholds=ladder,
                custom={"thresholdsStyle": {"mode": "dashed"}},
            ),
            status,
            _panel(
                lang,
                "dash.flood.rain",
                (Query(series('sum("rain")', "weather"), ALIAS),),
                unit="lengthmm",
                decimals=1,
                custom={"drawStyle": "bars", "fillOpacity": 60},
            ),
            _panel(lang, "dash.flood.intensity", (Query(intensity, ALIAS),), decimals=1),
            _panel(
                lang,
                "dash.flood.surface",
                (Query(series('mean("surface_temperature")', "road_surface"), ALIAS),),
                unit="celsius",
                decimals=1,
            ),
            _panel(
                lang,
                "dash.flood.film",
                (Query(series('mean("water_film")', "road_surface"), ALIAS),),
                unit="lengthmm",
                decimals=2,
            ),
            Row(tr("dash.trend.row", lang)),
            _panel(
                lang,
                "dash.flood.trend_rain",
                (Query(trend('sum("sum_rain")', "weather"), ALIAS),),
                unit="lengthmm",
                interval=TREND_INTERVAL,
                time_from=TREND_RANGE,
            ),
            _panel(
                lang,
                "dash.flood.trend_level",
                (Query(trend('max("max_level")', "water_level"), ALIAS),),
                thresholds=ladder,
                custom={"thresholdsStyle": {"mode": "dashed"}},
                interval=TREND_INTERVAL,
                time_from=TREND_RANGE,
            ),
        ),
    )
