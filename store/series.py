"""Both backends' :meth:`~store.base.StoreReader.series`: one field over a window, raw or
aggregated per minute, hour or day of a zone, one keyset page at a time.

InfluxDB: ``SELECT <agg>("field") ... GROUP BY time(1h) fill(none) LIMIT n tz('Asia/Jakarta')``
(names and values quoted by :mod:`store.influxql` only); raw pages ``GROUP BY *`` with
``LIMIT n`` per series, merged here. SQLite: the same windows by integer arithmetic on the
zone's fixed offset (``(time + offset) / window * window - offset``). Both read raw points:
the rollups that ``store setup`` keeps (``rollup_1m``, ``rollup_1h``) are not used yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from store.base import WINDOWS_MS, SeriesQuery, SeriesRefused, SeriesRow
from store.influxql import quote_ident, quote_string
from store.semantics import CASTS

if TYPE_CHECKING:
    from store.influx import InfluxStore
    from store.sqlite import SQLiteStore

NUMERIC = ("integer", "float")


def _check(query: SeriesQuery, kind: str | None) -> None:
    if query.window is not None and query.agg != "count" and kind not in (None, *NUMERIC):
        raise SeriesRefused(
            f"{query.agg} of {query.measurement}.{query.field} is not possible: its values "
            f"are {kind}; only count is"
        )


def _typed(query: SeriesQuery, value: Any, kind: str | None) -> Any:
    """The type of an aggregate (count: int, mean: float, others: the field's)."""
    if query.window is not None and query.agg == "count":
        return int(value)
    if query.window is not None and query.agg == "mean":
        return float(value)
    return CASTS[kind](value) if kind in CASTS else value


def _lower(query: SeriesQuery, after_ms: int | None) -> int:
    """Smallest point time of the page: past *after_ms* (raw) or its whole window."""
    if after_ms is None:
        return query.start_ms
    step = WINDOWS_MS[query.window] if query.window else 1
    return max(query.start_ms, after_ms + step)


def _raw_page(rows: list[SeriesRow], limit: int) -> list[SeriesRow]:
    """The first *limit* rows and every further one at the last one's time."""
    rows.sort(key=lambda r: (r.time_ms, r.gateway or "", r.sensor or "", sorted(r.tags.items())))
    if len(rows) <= limit:
        return rows
    last = rows[limit - 1].time_ms
    return [r for r in rows if r.time_ms <= last]


# -- InfluxDB ------------------------------------------------------------------------------


def influx_series(
    store: InfluxStore, query: SeriesQuery, after_ms: int | None, limit: int
) -> list[SeriesRow]:
    kind = store._field_keys(query.measurement).get(query.measurement, {}).get(query.field)
    _check(query, kind)
    if kind is None:
        return []
    terms = [
        f"{quote_ident(tag)} = {quote_string(value)}"
        for tag, value in (("gateway", query.gateway), ("sensor", query.sensor))
        if value is not None
    ]
    terms += [f"time >= {_lower(query, after_ms)}ms", f"time < {int(query.end_ms)}ms"]
    source = f"{quote_ident(query.measurement)} WHERE {' AND '.join(terms)}"
    field = quote_ident(query.field)
    if query.window is None:
        (result,) = store._query(f"SELECT {field} FROM {source} GROUP BY * LIMIT {int(limit)}")
        rows = []
        for series in result.get("series", []):
            tags = {k: v for k, v in series.get("tags", {}).items() if v}
            gateway, sensor = tags.pop("gateway", None), tags.pop("sensor", None)
            for time_ms, value in series.get("values", []):
                if value is not None:
                    rows.append(
                        SeriesRow(int(time_ms), _typed(query, value, kind), gateway, sensor, tags)
                    )
        return _raw_page(rows, limit)
    (result,) = store._query(
        f"SELECT {query.agg}({field}) FROM {source} GROUP BY time({query.window}) fill(none)"
        f" LIMIT {int(limit)} tz({quote_string(query.tz)})"
    )
    return [
        SeriesRow(int(time_ms), _typed(query, value, kind))
        for series in result.get("series", [])
        for time_ms, value in series.get("values", [])
        if value is not None
    ]


# -- SQLite --------------------------------------------------------------------------------

_SQL_AGG = {"mean": "avg", "min": "min", "max": "max", "sum": "sum", "count": "count"}


def sqlite_series(
    store: SQLiteStore, query: SeriesQuery, after_ms: int | None, limit: int
) -> list[SeriesRow]:
    kind = store._types([query.measurement]).get((query.measurement, query.field))
    _check(query, kind)
    if kind is None:
        return []
    path = '$."' + query.field.replace('"', "") + '"'
    where = "s.measurement = ? AND p.time_ms >= ? AND p.time_ms < ?"
    params: list[Any] = [query.measurement, _lower(query, after_ms), int(query.end_ms)]
    for column, value in (("gateway", query.gateway), ("sensor", query.sensor)):
        if value is not None:
            where += f" AND s.{column} = ?"
            params.append(value)
    joined = f"FROM points p JOIN series s ON s.id = p.series_id WHERE {where}"
    if query.window is None:
        sql = (
            f"SELECT s.tags, p.time_ms, json_extract(p.fields, ?) AS v {joined} AND v IS NOT NULL"
            " ORDER BY p.time_ms, s.tagkey LIMIT ?"
        )
        rows = _raw_rows(query, kind, store._read(sql, [path, *params, int(limit)]))
        if len(rows) == limit:  # the rest of the last time: a page never splits a time
            more = f"SELECT s.tags, p.time_ms, json_extract(p.fields, ?) AS v {joined} "
            more += "AND v IS NOT NULL AND p.time_ms = ?"
            seen = len([r for r in rows if r.time_ms == rows[-1].time_ms])
            ties = _raw_rows(query, kind, store._read(more, [path, *params, rows[-1].time_ms]))
            if len(ties) > seen:
                rows = [r for r in rows if r.time_ms != rows[-1].time_ms] + ties
        return _raw_page(rows, limit)
    width, offset = WINDOWS_MS[query.window], int(query.offset_ms)
    sql = (
        f"SELECT b, {_SQL_AGG[query.agg]}(v) FROM (SELECT "
        f"((p.time_ms + {offset}) / {width}) * {width} - {offset} AS b, "
        f"json_extract(p.fields, ?) AS v {joined}) WHERE v IS NOT NULL "
        "GROUP BY b ORDER BY b LIMIT ?"
    )
    return [
        SeriesRow(int(b), _typed(query, value, kind))
        for b, value in store._read(sql, [path, *params, int(limit)])
        if value is not None
    ]


def _raw_rows(query: SeriesQuery, kind: str | None, rows: Sequence[tuple]) -> list[SeriesRow]:
    out = []
    for tags_json, time_ms, value in rows:
        tags = json.loads(tags_json)
        gateway, sensor = tags.pop("gateway", None), tags.pop("sensor", None)
        out.append(SeriesRow(int(time_ms), _typed(query, value, kind), gateway, sensor, tags))
    return out
