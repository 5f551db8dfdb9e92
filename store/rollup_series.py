"""Aggregated series on InfluxDB served from the rollups of ``store setup`` where they answer
exactly, raw points elsewhere (:func:`rollup_rows`, called by :func:`store.series.influx_series`).

Which rollup: a 1m window reads ``rollup_1m``; 1h and 1d windows read ``rollup_1h``. A rollup
interval lies whole inside one window only when the zone's offset is a multiple of the
interval (a day of Asia/Kathmandu, +05:45, does not begin on a whole hour): otherwise the
whole query is raw.

Which part of a page's time range ``[low, high)``:

- ``[a, b)`` from the rollup, where ``a`` is the first interval boundary at or after ``low``
  and ``b`` is the last boundary at or before ``high``, cut back to the rollup's *settled* end:
  a continuous query recomputes its last intervals (``RESAMPLE ... FOR``) to take readings
  that arrive late, so an interval is settled only once its last recomputation ran. Evidence
  of that is a rollup point of the field (of the series asked) at least ``FOR - interval`` after it
  (:data:`SETTLE_MS`); without one (the newest, still partial intervals, or a range the
  rollups never covered) that part is raw.
- ``[low, a)`` and ``[b, high)`` from raw points (a start or end inside an interval, the
  newest intervals). Both are read as the same partial aggregates, then merged per window.

Per window the partials combine exactly: mean = sum(mean_f * count_f) / sum(count_f) (never
a mean of means), count = sum(count_f), min = min(min_f), max = max(max_f), sum = sum(sum_f)
for the additive fields (``store.retention.ADDITIVE_FIELDS``) and sum(mean_f * count_f) for
the others (rounded for integer fields). Floats may differ from raw in the last bits only.

Readings that reach InfluxDB after their interval was last recomputed (a gateway back after a
long outage) are in the rollups only after ``jagajalan store backfill`` over their window, as
are raw points written before ``store setup`` made the rollups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from store.base import WINDOWS_MS, SeriesQuery, SeriesRow
from store.influxql import quote_ident, quote_string
from store.retention import ADDITIVE_FIELDS, ROLLUPS, RetentionSettings, duration_seconds

if TYPE_CHECKING:
    from store.influx import InfluxStore

#: Aggregation window -> the rollup interval that serves it.
SOURCE = {"1m": "1m", "1h": "1h", "1d": "1h"}
_DEFAULTS = RetentionSettings()
#: How far past an interval a rollup point must exist before the interval counts as settled:
#: the continuous query's ``FOR`` minus one interval (``store setup``'s defaults: 10m, 2h).
SETTLE_MS = {
    interval: int(duration_seconds(resample) * 1000) - WINDOWS_MS[interval]
    for interval, resample in (("1m", _DEFAULTS.resample_1m), ("1h", _DEFAULTS.resample_1h))
}


def plan(query: SeriesQuery, low: int, high: int, newest: int | None) -> tuple[int, int] | None:
    """The part ``[a, b)`` of ``[low, high)`` the rollup answers, given the start of the
    newest rollup interval found in ``[a, b + SETTLE)`` (*newest*); None: all raw."""
    whole = _whole(query, low, high)
    if whole is None or newest is None:
        return None
    interval = SOURCE[query.window or ""]
    a, b = whole[0], min(whole[1], newest + WINDOWS_MS[interval] - SETTLE_MS[interval])
    return (a, b) if a < b else None


def _whole(query: SeriesQuery, low: int, high: int) -> tuple[int, int] | None:
    """The whole rollup intervals in ``[low, high)``, if any fits the zone's windows."""
    width = WINDOWS_MS[SOURCE[query.window or ""]]
    if query.offset_ms % width:
        return None
    a, b = -(-low // width) * width, (high // width) * width
    return (a, b) if a < b else None


def rollup_rows(
    store: InfluxStore, query: SeriesQuery, kind: str | None, low: int, high: int
) -> list[SeriesRow] | None:
    """The windows of ``[low, high)`` (every one of them, in order) with the rollup's part
    read from the rollup; None when the rollup answers no part of it (the caller reads raw)."""
    whole = _whole(query, low, high)
    if whole is None:
        return None
    (a, b), interval = whole, SOURCE[query.window or ""]
    rp = f"{quote_ident(ROLLUPS[interval])}.{quote_ident(query.measurement)}"
    count_f = quote_ident(f"count_{query.field}")
    # The newest rollup interval of the very series asked (a gateway's, when one is named).
    (found,) = store.execute(
        f"SELECT last({count_f}) FROM {rp}{_tail(query, a, b + SETTLE_MS[interval])}",
        tolerate=("retention policy not found", "database not found"),
    )
    values = [v for s in found.get("series", []) for v in s.get("values", [])]
    part = plan(query, low, high, int(values[0][0]) if values else None)
    if part is None:
        return None
    a, b = part
    statements = [_rollup_select(query, rp, a, b)]
    statements += [_raw_select(query, lo, hi) for lo, hi in ((low, a), (b, high)) if lo < hi]
    merged: dict[int, list[Any]] = {}
    for result in store.execute(";".join(statements)):
        for series in result.get("series", []):
            for row in series.get("values", []):
                _merge(query.agg, merged, int(row[0]), row[1:])
    return [
        SeriesRow(time_ms, _final(query.agg, state, kind))
        for time_ms, state in sorted(merged.items())
        if state[0] is not None
    ]


def _tail(query: SeriesQuery, low: int, high: int) -> str:
    terms = [
        f"{quote_ident(tag)} = {quote_string(value)}"
        for tag, value in (("gateway", query.gateway), ("sensor", query.sensor))
        if value is not None
    ]
    terms += [f"time >= {int(low)}ms", f"time < {int(high)}ms"]
    return f" WHERE {' AND '.join(terms)}"


def _group(query: SeriesQuery) -> str:
    return f" GROUP BY time({query.window}) fill(none) tz({quote_string(query.tz)})"


def _raw_select(query: SeriesQuery, low: int, high: int) -> str:
    f = quote_ident(query.field)
    what = f"sum({f}), count({f})" if query.agg == "mean" else f"{query.agg}({f})"
    source = quote_ident(query.measurement)
    return f"SELECT {what} FROM {source}{_tail(query, low, high)}{_group(query)}"


def _rollup_select(query: SeriesQuery, rp: str, low: int, high: int) -> str:
    def col(prefix: str) -> str:
        return quote_ident(f"{prefix}_{query.field}")

    agg, where, group = query.agg, _tail(query, low, high), _group(query)
    if agg in ("min", "max"):
        return f"SELECT {agg}({col(agg)}) FROM {rp}{where}{group}"
    if agg == "count":
        return f"SELECT sum({col('count')}) FROM {rp}{where}{group}"
    if agg == "sum" and query.field in ADDITIVE_FIELDS:
        return f"SELECT sum({col('sum')}) FROM {rp}{where}{group}"
    # mean, and the sum of a field whose rollup keeps no sum: from mean_f * count_f
    inner = f'SELECT {col("mean")} * {col("count")} AS "p", {col("count")} AS "c" FROM {rp}{where}'
    what = 'sum("p"), sum("c")' if agg == "mean" else 'sum("p")'
    outer = f" WHERE time >= {int(low)}ms AND time < {int(high)}ms"
    return f"SELECT {what} FROM ({inner}){outer}{group}"


def _merge(agg: str, merged: dict[int, list[Any]], time_ms: int, values: Iterable[Any]) -> None:
    """Fold one partial of a window (sum and count for a mean; else the aggregate itself)
    into *merged*."""
    row = list(values)
    if row[0] is None:
        return
    state = merged.get(time_ms)
    if state is None:
        merged[time_ms] = row
    elif agg == "min":
        state[0] = min(state[0], row[0])
    elif agg == "max":
        state[0] = max(state[0], row[0])
    else:  # mean (sum, count), sum, count
        merged[time_ms] = [x + y for x, y in zip(state, row, strict=True)]


def _final(agg: str, state: list[Any], kind: str | None) -> Any:
    if agg == "mean":
        return float(state[0]) / float(state[1])
    if agg == "count":
        return int(state[0])
    if kind == "integer":
        return round(state[0]) if isinstance(state[0], float) else int(state[0])
    if kind == "float":
        return float(state[0])
    return state[0]
