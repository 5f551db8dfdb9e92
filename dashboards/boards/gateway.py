"""Kesehatan Gateway: online/offline over time, spool, dropped readings, decode errors, clock
offset and when each gateway was last heard from.

Sources (docs/protocol.md): ``gateway_status`` (ingest: every status and Last Will, field
``state``), ``gateway_batches`` (ingest: one point per batch, at its ``sent`` time) and
``gateway_health`` (the gateway's own readings every ``health_interval``: ``spool_depth``,
``spool_oldest_age``, ``dropped``, ``decode_errors``, ``clock_offset``). The versions: the
``version`` field of ``gateway_status`` (the gateway's software, in every status it sends
itself; a Last Will carries none, so the newest point with a version is the last time the
gateway reported for itself: its "last seen") and the ``firmware`` field of
``jagajalan_device_status`` (a node's firmware, "" when its driver knows none).
"""

from __future__ import annotations

from dashboards import common
from dashboards.common import LEGEND, WHERE, latest, series, steps
from dashboards.model import Dashboard, Panel, Query, ValueText
from kernel.text import tr
from telemetry.mapping import VERSION_FIELD
from telemetry.models import BATCH_MEASUREMENT, DEVICE_STATUS_MEASUREMENT, STATUS_MEASUREMENT

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


def _table(lang: str, key: str, query: Query, columns: dict[str, str]) -> Panel:
    """A table of the newest row per gateway; *columns*: field -> message key of its title
    (``Time``, the row's time, shown as "... ago")."""
    overrides = []
    for name, title in columns.items():
        props = [{"id": "displayName", "value": tr(title, lang)}]
        if name == "Time":
            props.append({"id": "unit", "value": "dateTimeFromNow"})
        overrides.append({"matcher": {"id": "byName", "options": name}, "properties": props})
    return Panel(
        tr(key, lang),
        "table",
        (query,),
        width=12,
        height=7,
        description=tr(f"{key}.about", lang),
        options={"showHeader": True, "sortBy": [{"desc": False, "displayName": "gateway"}]},
        overrides=tuple(overrides),
    )


def versions(lang: str) -> tuple[Panel, Panel]:
    """Each gateway's software version and when it last reported it; each node's firmware."""
    software = Query(
        latest(f'last("{VERSION_FIELD}") AS "{VERSION_FIELD}"', STATUS_MEASUREMENT),
        result_format="table",
    )
    firmware = Query(
        f'SELECT last("firmware") AS "firmware" FROM "{DEVICE_STATUS_MEASUREMENT}" {WHERE} '
        'AND "firmware" != \'\' GROUP BY "gateway", "device"',
        result_format="table",
    )
    return (
        _table(
            lang,
            "dash.gw.versions",
            software,
            {VERSION_FIELD: "dash.gw.col.version", "Time": "dash.gw.col.reported"},
        ),
        _table(
            lang,
            "dash.gw.firmware",
            firmware,
            {
                "device": "dash.gw.col.device",
                "firmware": "dash.gw.col.firmware",
                "Time": "dash.gw.col.reported",
            },
        ),
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
            *versions(lang),
        ),
    )
