"""Lalu Lintas: vehicles by class, flow in smp/jam, degree of saturation and level of service
per segment, mean and 85th-percentile speeds.

Sources: ``jagajalan_traffic`` (the indicators job, one point per counter per interval:
``vehicles``, ``flow_smp``, ``degree_of_saturation``, ``los``, ``speed_mean``, ``speed_p85``;
docs/protocol.md 4.1) and the counters' own ``traffic`` readings (tags ``vehicle_class``,
``lane``, ``direction``). The degree-of-saturation bands and the level-of-service letters are
those of analytics/los.py (KM 14/2006 V/C bands, the indicators job's default).
"""

from __future__ import annotations

from analytics import los
from dashboards import common
from dashboards.common import LEGEND, TREND_INTERVAL, TREND_RANGE, WHERE, series, trend
from dashboards.model import Dashboard, Panel, Query, Row, Threshold, ValueText
from kernel.text import tr
from telemetry.models import TRAFFIC_INDICATOR_MEASUREMENT as TRAFFIC

ALIAS = "$tag_gateway"
TOOLTIP = {"mode": "multi", "sort": "desc"}
#: Level-of-service colours, A (free flow) to F (forced flow).
LOS_COLOURS = {
    "A": "dark-green",
    "B": "green",
    "C": "yellow",
    "D": "orange",
    "E": "red",
    "F": "dark-red",
}


def _ds_steps() -> tuple[Threshold, ...]:
    letters = [letter for letter, _ in los.VC_KM14_2006.bounds] + [los.VC_KM14_2006.beyond]
    bounds = [None] + [bound for _, bound in los.VC_KM14_2006.bounds]
    return tuple(Threshold(LOS_COLOURS[ltr], b) for ltr, b in zip(letters, bounds, strict=True))


def _panel(lang: str, key: str, query: Query, **kw: object) -> Panel:
    kw.setdefault("options", {"legend": LEGEND, "tooltip": TOOLTIP})
    return Panel(tr(key, lang), "timeseries", (query,), description=tr(f"{key}.about", lang), **kw)


def build(lang: str = "id", tiles: str | None = None) -> Dashboard:
    """The dashboard in *lang* (*tiles*: for the map of the summary only)."""
    by_class = Query(
        'SELECT sum("count") FROM "traffic" '
        f'{WHERE} AND "vehicle_class" =~ /.+/ '
        'GROUP BY time($__interval), "vehicle_class" fill(none)',
        "$tag_vehicle_class",
    )
    speeds = (
        Query(series('mean("speed_mean")', TRAFFIC), tr("dash.traffic.mean_of", lang)),
        Query(series('mean("speed_p85")', TRAFFIC), tr("dash.traffic.p85_of", lang)),
    )
    level = Panel(
        tr("dash.traffic.los", lang),
        "state-timeline",
        (
            Query(
                f'SELECT last("los") FROM "{TRAFFIC}" {WHERE} '
                'GROUP BY time($__interval), "gateway" fill(none)',
                ALIAS,
            ),
        ),
        width=24,
        description=tr("dash.traffic.los.about", lang),
        mappings=tuple(ValueText(ltr, colour, value=ltr) for ltr, colour in LOS_COLOURS.items()),
        color_mode="thresholds",
        options={"mergeValues": True, "showValue": "auto", "rowHeight": 0.8},
    )
    return Dashboard(
        uid="jagajalan-lalu-lintas",
        title=tr("dash.traffic.title", lang),
        description=tr("dash.traffic.about", lang),
        variables=common.variables(lang),
        items=(
            _panel(
                lang,
                "dash.traffic.by_class",
                by_class,
                custom={
                    "drawStyle": "bars",
                    "stacking": {"mode": "normal", "group": "A"},
                    "fillOpacity": 80,
                },
            ),
            _panel(
                lang,
                "dash.traffic.flow",
                Query(series('mean("flow_smp")', TRAFFIC), ALIAS),
                decimals=0,
            ),
            _panel(
                lang,
                "dash.traffic.ds",
                Query(series('mean("degree_of_saturation")', TRAFFIC), ALIAS),
                thresholds=_ds_steps(),
                decimals=2,
                min=0,
                custom={"thresholdsStyle": {"mode": "line+area"}},
            ),
            Panel(
                tr("dash.traffic.speed", lang),
                "timeseries",
                speeds,
                unit="velocitykmh",
                decimals=1,
                description=tr("dash.traffic.speed.about", lang),
                options={"legend": LEGEND, "tooltip": TOOLTIP},
            ),
            level,
            Row(tr("dash.trend.row", lang)),
            _panel(
                lang,
                "dash.traffic.trend",
                Query(trend('sum("sum_count")', "traffic"), ALIAS),
                width=24,
                interval=TREND_INTERVAL,
                time_from=TREND_RANGE,
            ),
        ),
    )
