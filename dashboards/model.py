"""A small typed builder of Grafana dashboards whose queries are raw InfluxQL.

Why not Grafana's Foundation SDK (PyPI ``grafana-foundation-sdk``) as the builder: its 10.x and
11.x releases have builders for Prometheus, Loki, Elasticsearch, CloudWatch and others, but no
InfluxDB query type, so every panel here would carry an untyped dict for its one important part,
the query. These dataclasses cover exactly what JagaJalan's dashboards use; the SDK's typed
*models* are still what the structural test reads the output back with
(tests/dashboards/test_structure.py).

What comes out is Grafana's dashboard JSON (``schemaVersion`` :data:`SCHEMA_VERSION`, which
Grafana 10.4 and 11 load as is). :meth:`Dashboard.to_json` is deterministic: the same code gives
the same bytes (keys in a fixed order, panel ids and grid positions assigned in order).

Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 39
#: The InfluxDB data source every panel and variable reads: the provisioning file
#: (dashboards/provisioning/datasources/jagajalan.yaml) gives it this uid.
DATASOURCE_UID = "jagajalan-influxdb"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
GRID_WIDTH = 24


@dataclass(frozen=True)
class Threshold:
    color: str  # a Grafana colour name or a hex colour
    value: float | None = None  # None: the base step (from minus infinity)


@dataclass(frozen=True)
class ValueText:
    """A value mapping: a number range or an exact text shown as *text* in *color*."""

    text: str
    color: str
    value: str | None = None  # exact value (text or number as text)
    start: float | None = None  # range, both ends included
    end: float | None = None

    def to_dict(self, index: int) -> dict[str, Any]:
        result = {"color": self.color, "index": index, "text": self.text}
        if self.value is not None:
            return {"options": {self.value: result}, "type": "value"}
        return {"options": {"from": self.start, "result": result, "to": self.end}, "type": "range"}


@dataclass(frozen=True)
class Query:
    """One raw InfluxQL target. ``$timeFilter``, ``$__interval`` and ``$<variable>`` in *text*
    are expanded by Grafana (dashboards/macros.py does the same for the tests)."""

    text: str
    alias: str = ""
    result_format: str = "time_series"  # or "table"

    def to_dict(self, ref_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"datasource": DATASOURCE, "query": self.text, "rawQuery": True}
        if self.alias:
            out["alias"] = self.alias
        out["refId"] = ref_id
        out["resultFormat"] = self.result_format
        return out


@dataclass(frozen=True)
class Panel:
    title: str
    type: str  # a panel plugin id that Grafana 10 and 11 ship: see PANEL_TYPES
    queries: tuple[Query, ...] = ()
    width: int = 12
    height: int = 8
    unit: str = ""
    description: str = ""
    thresholds: tuple[Threshold, ...] = ()
    mappings: tuple[ValueText, ...] = ()
    color_mode: str = ""  # fieldConfig.defaults.color.mode: thresholds, palette-classic, ...
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    interval: str = ""  # the panel's minimum interval ($__interval never goes below it)
    time_from: str = ""  # a relative time that overrides the dashboard's (e.g. 30d)
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)  # fieldConfig.defaults.custom
    overrides: tuple[dict[str, Any], ...] = ()
    transformations: tuple[dict[str, Any], ...] = ()
    no_value: str = ""  # what a stat shows when the query returns nothing

    def field_defaults(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.color_mode:
            out["color"] = {"mode": self.color_mode}
        if self.custom:
            out["custom"] = self.custom
        if self.decimals is not None:
            out["decimals"] = self.decimals
        out["mappings"] = [m.to_dict(i) for i, m in enumerate(self.mappings)]
        if self.max is not None:
            out["max"] = self.max
        if self.min is not None:
            out["min"] = self.min
        if self.no_value:
            out["noValue"] = self.no_value
        steps = self.thresholds or (Threshold("green"),)
        out["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": s.color, "value": s.value} for s in steps],
        }
        if self.unit:
            out["unit"] = self.unit
        return out

    def to_dict(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        out: dict[str, Any] = {"datasource": DATASOURCE}
        if self.description:
            out["description"] = self.description
        out["fieldConfig"] = {"defaults": self.field_defaults(), "overrides": list(self.overrides)}
        out["gridPos"] = {"h": self.height, "w": self.width, "x": x, "y": y}
        out["id"] = panel_id
        if self.interval:
            out["interval"] = self.interval
        out["options"] = self.options
        out["targets"] = [q.to_dict(chr(ord("A") + i)) for i, q in enumerate(self.queries)]
        if self.time_from:
            out["timeFrom"] = self.time_from
        out["title"] = self.title
        if self.transformations:
            out["transformations"] = list(self.transformations)
        out["type"] = self.type
        return out


@dataclass(frozen=True)
class Row:
    """A collapsible row header: the panels after it, up to the next row, belong to it."""

    title: str


@dataclass(frozen=True)
class Variable:
    """A query variable over InfluxDB tag values (multi-select, with "Semua" = all)."""

    name: str
    label: str
    query: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": {"selected": True, "text": ["Semua"], "value": ["$__all"]},
            "datasource": DATASOURCE,
            "includeAll": True,
            "label": self.label,
            "multi": True,
            "name": self.name,
            "options": [],
            "query": self.query,
            "refresh": 1,  # on dashboard load: sites change seldom
            "sort": 1,
            "type": "query",
        }


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    items: tuple[Panel | Row, ...]
    variables: tuple[Variable, ...] = ()
    time_from: str = "now-24h"
    refresh: str = "1m"
    tags: tuple[str, ...] = ("jagajalan",)

    def panels(self) -> list[dict[str, Any]]:
        """Panels with ids in order and grid positions flowing left to right, top to bottom."""
        out: list[dict[str, Any]] = []
        x = y = row_height = 0
        for panel_id, item in enumerate(self.items, start=1):
            if isinstance(item, Row):
                y += row_height
                x = row_height = 0
                out.append(
                    {
                        "collapsed": False,
                        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                        "id": panel_id,
                        "panels": [],
                        "title": item.title,
                        "type": "row",
                    }
                )
                y += 1
                continue
            if x + item.width > GRID_WIDTH:
                y += row_height
                x = row_height = 0
            out.append(item.to_dict(panel_id, x, y))
            x += item.width
            row_height = max(row_height, item.height)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotations": {"list": []},
            "description": self.description,
            "editable": True,
            "graphTooltip": 1,
            "links": [],
            "panels": self.panels(),
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": list(self.tags),
            "templating": {"list": [v.to_dict() for v in self.variables]},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "Asia/Jakarta",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "monday",
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


def queries(panel: dict[str, Any]) -> list[str]:
    """The InfluxQL texts of a panel's targets (for the tests and the push)."""
    return [t["query"] for t in panel.get("targets", [])]
