"""Kualitas Udara: PM2.5, PM10 and the hourly ISPU in its official category colours.

The colours and category names are those of analytics/ispu.py (the regulation's table). The
category panel maps ``category_code`` (0-4, exact) to the category's name and colour; the ISPU
graph draws the categories as bands from their published integer starts (51, 101, ...).
"""

from __future__ import annotations

from analytics import ispu
from dashboards import common
from dashboards.common import LEGEND, TREND_INTERVAL, TREND_RANGE, latest, series, trend
from dashboards.model import Dashboard, Panel, Query, Row, Threshold, ValueText
from kernel.text import tr
from telemetry.models import ISPU_HOURLY_MEASUREMENT as ISPU

ALIAS = "$tag_gateway"
UG = "con\u03bcgm3"  # Grafana's unit id for µg/m³ (Greek mu, as Grafana spells it)


def _ispu_steps() -> tuple[Threshold, ...]:
    return tuple(
        Threshold(c.colour, None if i == 0 else c.lower) for i, c in enumerate(ispu.CATEGORIES)
    )


def _category_texts(lang: str) -> tuple[ValueText, ...]:
    return tuple(
        ValueText(c.label(lang), c.colour, value=str(i)) for i, c in enumerate(ispu.CATEGORIES)
    )


def _pm(lang: str, field: str, key: str) -> Panel:
    return Panel(
        tr(key, lang),
        "timeseries",
        (Query(series(f'mean("{field}")', "air_quality"), ALIAS),),
        unit=UG,
        decimals=1,
        options={"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    )


def _pm_trend(lang: str, field: str, key: str) -> Panel:
    return Panel(
        tr(key, lang),
        "timeseries",
        (Query(trend(f'mean("mean_{field}")', "air_quality"), ALIAS),),
        unit=UG,
        decimals=1,
        interval=TREND_INTERVAL,
        time_from=TREND_RANGE,
        options={"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    )


def build(lang: str = "id", tiles: str | None = None) -> Dashboard:
    """The dashboard in *lang* (*tiles*: for the map of the summary only)."""
    category = Panel(
        tr("dash.air.category", lang),
        "stat",
        (Query(latest('last("category_code")', ISPU), ALIAS),),
        width=24,
        height=5,
        description=tr("dash.air.category.about", lang),
        thresholds=tuple(
            Threshold(c.colour, None if i == 0 else i) for i, c in enumerate(ispu.CATEGORIES)
        ),
        mappings=_category_texts(lang),
        color_mode="thresholds",
        options={
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value_and_name",
        },
    )
    index = Panel(
        tr("dash.air.ispu", lang),
        "timeseries",
        (Query(series('last("ispu")', ISPU), ALIAS),),
        width=24,
        description=tr("dash.air.ispu.about", lang),
        thresholds=_ispu_steps(),
        min=0,
        interval="1h",
        custom={"drawStyle": "line", "thresholdsStyle": {"mode": "area"}},
        options={"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    )
    return Dashboard(
        uid="jagajalan-kualitas-udara",
        title=tr("dash.air.title", lang),
        description=tr("dash.air.about", lang),
        variables=common.variables(lang),
        items=(
            category,
            index,
            _pm(lang, "pm25", "dash.air.pm25"),
            _pm(lang, "pm10", "dash.air.pm10"),
            Row(tr("dash.trend.row", lang)),
            _pm_trend(lang, "pm25", "dash.air.pm25"),
            _pm_trend(lang, "pm10", "dash.air.pm10"),
        ),
    )
