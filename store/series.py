"""Both backends' :meth:`~store.base.StoreReader.series`: one field over a window, raw or
aggregated per minute, hour or day of a zone, one keyset page at a time.

InfluxDB: ``SELECT <agg>("field") ... GROUP BY time(1h) fill(none) LIMIT n tz('Asia/Jakarta')``
(names and values quoted by :mod:`store.influxql` only); raw pages ``GROUP BY *`` with
``LIMIT n`` per series, merged here. SQLite: the same windows by integer arithmetic on the
zone's fixed offset (``(time + offset) / window * window - offset``). On InfluxDB the windows
are served from the rollups ``store setup`` keeps (``rollup_1m``, ``rollup_1h``) where they
answer exactly (:mod:`store.rollup_series`); SQLite has no rollups and reads raw points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from store.base import WINDOWS_MS, SeriesQuery, SeriesRefused, SeriesRow
from store.influxql import quote_ident, quote_string
from store.rollup_series import rollup_rows
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
    field = quote_ident(query.field)
    lower, end = _lower(query, after_ms), int(query.end_ms)
    if query.window is None:
        return _influx_raw(store, query, kind, terms, lower, end, limit)
    out: list[SeriesRow] = []
    for low, high in _steps(query, lower, end, limit, out):
        served = rollup_rows(store, query, kind, low, high)
        if served is not None:
            out += served[: limit - len(out)]
            continue
        window = [*terms, f"time >= {low}ms", f"time < {high}ms"]
        (result,) = store._query(
            f"SELECT {query.agg}({field}) FROM {quote_ident(query.measurement)} "
            f"WHERE {' AND '.join(window)} GROUP BY time({query.window}) fill(none)"
            f" LIMIT {int(limit - len(out))} tz({quote_string(query.tz)})"
        )
        out += [
            SeriesRow(int(time_ms), _typed(query, value, kind))
            for series in result.get("series", [])
            for time_ms, value in series.get("values", [])
            if value is not None
        ]
    return out


#: A raw page reads from its first time on in steps of this length, each step 8 times the
#: one before, until the page is full: so it touches the shards (a day each) of its own rows,
#: not every shard up to `end` (page 1 of a month would read 31, the last page one).
RAW_STEP_MS = 3_600_000


def _influx_raw(
    store: InfluxStore,
    query: SeriesQuery,
    kind: str | None,
    terms: list[str],
    lower: int,
    end: int,
    limit: int,
) -> list[SeriesRow]:
    """The first *limit* values in time order over all matching series, with their tags
    as columns (``*::tag``), then every further one at the last time. One merged ``LIMIT``:
    a page reads about *limit* values however many series match (``GROUP BY * LIMIT n``
    returned *n* per series: half a million values for a page of 500 gateways)."""
    source = f"SELECT {quote_ident(query.field)}, *::tag FROM {quote_ident(query.measurement)}"
    rows: list[SeriesRow] = []
    low, step = lower, RAW_STEP_MS
    while low < end and len(rows) < limit:
        high = min(end, low + step)
        window = [*terms, f"time >= {low}ms", f"time < {high}ms"]
        (result,) = store._query(
            f"{source} WHERE {' AND '.join(window)} LIMIT {int(limit - len(rows))}"
        )
        rows += _tagged_rows(query, kind, result)
        low, step = high, step * 8
    if len(rows) >= limit:  # the last time may hold more values than the page had room for
        last = rows[-1].time_ms
        (rest,) = store._query(f"{source} WHERE {' AND '.join([*terms, f'time = {last}ms'])}")
        rows = [r for r in rows if r.time_ms < last] + _tagged_rows(query, kind, rest)
    return _raw_page(rows, len(rows))  # in (time, series) order, like SQLite's pages


def _tagged_rows(query: SeriesQuery, kind: str | None, result: dict[str, Any]) -> list[SeriesRow]:
    rows = []
    for series in result.get("series", []):
        names = series["columns"]
        for values in series.get("values", []):
            if values[1] is None:
                continue
            tags = {k: v for k, v in zip(names[2:], values[2:], strict=True) if v}
            gateway, sensor = tags.pop("gateway", None), tags.pop("sensor", None)
            value = _typed(query, values[1], kind)
            rows.append(SeriesRow(int(values[0]), value, gateway, sensor, tags))
    return rows


def _steps(
    query: SeriesQuery, lower: int, end: int, limit: int, out: list[SeriesRow]
) -> Iterator[tuple[int, int]]:
    """Time ranges of at most the page's remaining windows, each ending at a window's end,
    until *out* holds *limit* rows or *end* is reached: a page reads the points of its own
    windows (and of the empty ones between them), not every point up to *end*."""
    width, offset = WINDOWS_MS[query.window or "1m"], int(query.offset_ms)
    while lower < end and len(out) < limit:
        first = ((lower + offset) // width) * width - offset  # the window holding `lower`
        upper = min(end, first + (limit - len(out)) * width)
        yield lower, upper
        lower = upper


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
    where, params = "s.measurement = ?", [query.measurement]
    for column, value in (("gateway", query.gateway), ("sensor", query.sensor)):
        if value is not None:
            where += f" AND s.{column} = ?"
            params.append(value)
    lower, end = _lower(query, after_ms), int(query.end_ms)
    if query.window is None:
        # Per series the first `limit` values after the cursor, read in the order of the
        # primary key (series_id, time_ms), then merged: a page reads about `limit` rows per
        # series wherever it starts (the argument of InfluxDB's GROUP BY * LIMIT n).
        rows: list[SeriesRow] = []
        for series_id, tags_json in store._read(
            f"SELECT id, tags FROM series s WHERE {where}", params
        ):
            values = store._read(
                "SELECT time_ms, json_extract(fields, ?) AS v FROM points WHERE series_id = ? "
                "AND time_ms >= ? AND time_ms < ? AND v IS NOT NULL ORDER BY time_ms LIMIT ?",
                [path, series_id, lower, end, int(limit)],
            )
            rows += _raw_rows(query, kind, [(tags_json, t, v) for t, v in values])
        return _raw_page(rows, limit)
    width, offset = WINDOWS_MS[query.window], int(query.offset_ms)
    sql = (
        f"SELECT b, {_SQL_AGG[query.agg]}(v) FROM (SELECT "
        f"((p.time_ms + {offset}) / {width}) * {width} - {offset} AS b, "
        "json_extract(p.fields, ?) AS v FROM points p JOIN series s ON s.id = p.series_id "
        f"WHERE {where} AND p.time_ms >= ? AND p.time_ms < ?) WHERE v IS NOT NULL "
        "GROUP BY b ORDER BY b LIMIT ?"
    )
    out: list[SeriesRow] = []
    for low, high in _steps(query, lower, end, limit, out):
        found = store._read(sql, [path, *params, low, high, limit - len(out)])
        out += [SeriesRow(int(b), _typed(query, v, kind)) for b, v in found if v is not None]
    return out


def _raw_rows(query: SeriesQuery, kind: str | None, rows: Sequence[tuple]) -> list[SeriesRow]:
    out = []
    for tags_json, time_ms, value in rows:
        tags = json.loads(tags_json)
        gateway, sensor = tags.pop("gateway", None), tags.pop("sensor", None)
        out.append(SeriesRow(int(time_ms), _typed(query, value, kind), gateway, sensor, tags))
    return out
