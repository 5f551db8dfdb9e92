"""Kesehatan Gateway: online/offline over time, spool, dropped readings, decode errors, clock
offset and when each gateway was last heard from.

Sources (docs/protocol.md): ``gateway_status`` (ingest: every status and Last Will, field
``state``), ``gateway_batches`` (ingest: one point per batch, at its ``sent`` time) and
``gateway_health`` (the gateway's own readings every ``health_interval``: ``spool_depth``,
``spool_oldest_age``, ``dropped``, ``decode_errors``, ``clock_offset``).
"""

from __future__ import annotations

from dashboards import common
from dashboards.common import LEGEND, WHERE, latest, series, steps
from dashboards.model import Dashboard, Panel, Query, ValueText
from kernel.text import tr
from telemetry.models import BATCH_MEASUREMENT, STATUS_MEASUREMENT

ALIAS = "$tag_gateway"
HEALTH = "gateway_health"
TOOLTIP = {"mode": "multi", "sort": "desc"}


def _health(lang: str, key: str, select: str, unit: str = "", decimals: int = 0) -> Panel:
    return Panel(
        tr(key, lang),
        "timeseries",
        (Query(series(select, HEALTH), ALIAS),),
        width=8,
        unit=unit,
        decimals=decimals,
        description=tr(f"{key}.about", lang),
        options={"legend": LEGEND, "tooltip": TOOLTIP},
    )


def build(lang: str = "id", tiles: str | None = None) -> Dashboard:
    """The dashboard in *lang* (*tiles*: for the map of the summary only)."""
    online, offline = tr("dash.gw.online", lang), tr("dash.gw.offline", lang)
    timeline = Panel(
        tr("dash.gw.state", lang),
        "state-timeline",
        (
            Query(
                f'SELECT last("state") FROM "{STATUS_MEASUREMENT}" {WHERE} '
                'GROUP BY time($__interval), "gateway" fill(previous)',
                ALIAS,
            ),
        ),
        width=24,
        description=tr("dash.gw.state.about", lang),
        mappings=(
            ValueText(online, "green", value="online"),
            ValueText(offline, "red", value="offline"),
        ),
        color_mode="thresholds",
        options={"mergeValues": True, "showValue": "never", "rowHeight": 0.8},
    )
    last_seen = Panel(
        tr("dash.gw.last_seen", lang),
        "table",
        (Query(latest('last("seq") AS "seq"', BATCH_MEASUREMENT), result_format="table"),),
        width=24,
        height=7,
        description=tr("dash.gw.last_seen.about", lang),
        options={"showHeader": True, "sortBy": [{"desc": False, "displayName": "Time"}]},
        overrides=(
            {
                "matcher": {"id": "byName", "options": "Time"},
                "properties": [
                    {"id": "displayName", "value": tr("dash.gw.last_batch", lang)},
                    {"id": "unit", "value": "dateTimeFromNow"},
                ],
            },
        ),
    )
    return Dashboard(
        uid="jagajalan-kesehatan-gateway",
        title=tr("dash.gw.title", lang),
        description=tr("dash.gw.about", lang),
        variables=common.variables(lang),
        items=(
            timeline,
            _health(lang, "dash.gw.spool", 'max("spool_depth")'),
            _health(lang, "dash.gw.spool_age", 'max("spool_oldest_age")', unit="s"),
            _health(lang, "dash.gw.clock", 'mean("clock_offset")', unit="s", decimals=2),
            _health(lang, "dash.gw.dropped", 'max("dropped")'),
            _health(lang, "dash.gw.decode", 'max("decode_errors")'),
            Panel(
                tr("dash.gw.batches", lang),
                "timeseries",
                (Query(series('sum("readings")', BATCH_MEASUREMENT), ALIAS),),
                width=8,
                description=tr("dash.gw.batches.about", lang),
                thresholds=steps(("green", None)),
                options={"legend": LEGEND, "tooltip": TOOLTIP},
            ),
            last_seen,
        ),
    )
