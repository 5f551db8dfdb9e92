"""The newest value of every field of every series on InfluxDB, without reading every shard.

``SELECT last("f") ... GROUP BY *`` reads the last block of every series in every shard of
the raw retention policy (90 daily shards in production) for every field. Instead, in one
request: the newest point of each series within the last :data:`RECENT_MS`
(``ORDER BY time DESC LIMIT 1``: one block of the newest shard per series) and the series
there are (``SHOW SERIES``, from the index). A field that newest point holds has its latest
value there (nothing is newer). Only for a series without a recent point, or whose newest
point lacks a field (a traffic interval without vehicles has no ``speed_mean``), a second
request asks ``last()`` of that field over all time, for those series' gateways only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from store.influxql import quote_ident, quote_string

if TYPE_CHECKING:
    from store.influx import InfluxStore

#: How far back the first request looks (any window gives the same answer; this one holds
#: the newest point of every gateway that is online, in one shard).
RECENT_MS = 3_600_000
#: More gateways than this without a recent value: the second request asks all of them.
_MAX_NAMED = 100

Key = tuple[tuple[str, str], ...]  # a series' tags, sorted, empty values left out
Found = dict[tuple[str, Key, str], tuple[int, Any]]  # (measurement, tags, field) -> newest


def newest_values(
    store: InfluxStore,
    fields: dict[str, Iterable[str]],
    gateway: str | None = None,
    now_ms: int | None = None,
) -> Found:
    """(measurement, tags, field) -> (time_ms, value) of the newest value of each field of
    *fields* (measurement -> field names) in each series, optionally of one gateway."""
    since = (int(time.time() * 1000) if now_ms is None else now_ms) - RECENT_MS
    names = list(fields)
    statements = []
    for m in names:
        statements.append(
            f"SELECT * FROM {quote_ident(m)}{_where(gateway, f'time > {since}ms')} "
            "GROUP BY * ORDER BY time DESC LIMIT 1"
        )
        statements.append(f"SHOW SERIES FROM {quote_ident(m)}{_where(gateway)}")
    results = store._query(";".join(statements))
    found: Found = {}
    wanted: list[tuple[str, str, list[Key]]] = []
    for i, m in enumerate(names):
        recent, every = results[2 * i], results[2 * i + 1]
        for series in recent.get("series", []):
            key = _key(series.get("tags", {}))
            columns = series["columns"]
            for row in series.get("values", []):
                for name, value in zip(columns[1:], row[1:], strict=True):
                    if value is not None and name in fields[m]:
                        found[(m, key, name)] = (int(row[0]), value)
        keys = [_parse(s[0]) for r in every.get("series", []) for s in r.get("values", [])]
        for f in fields[m]:
            lacking = [k for k in keys if (m, k, f) not in found]
            if lacking:
                wanted.append((m, f, lacking))
    if wanted:
        statements = [
            f"SELECT last({quote_ident(f)}) FROM {quote_ident(m)}"
            f"{_where(gateway, _gateways(lacking))} GROUP BY *"
            for m, f, lacking in wanted
        ]
        for (m, f, _), result in zip(wanted, store._query(";".join(statements)), strict=True):
            for series in result.get("series", []):
                key = _key(series.get("tags", {}))
                time_ms, value = series["values"][0][:2]
                if value is not None and (m, key, f) not in found:
                    found[(m, key, f)] = (int(time_ms), value)
    return found


def _where(gateway: str | None, *terms: str) -> str:
    parts = [] if gateway is None else [f"{quote_ident('gateway')} = {quote_string(gateway)}"]
    parts += [t for t in terms if t]
    return " WHERE " + " AND ".join(parts) if parts else ""


def _gateways(keys: list[Key]) -> str:
    """``("gateway" = 'a' OR ...)`` naming the gateways of *keys*; "" (all) when one has no
    gateway tag or there are too many to name."""
    gateways = {dict(k).get("gateway") for k in keys}
    if None in gateways or len(gateways) > _MAX_NAMED:
        return ""
    terms = [f"{quote_ident('gateway')} = {quote_string(str(g))}" for g in sorted(gateways)]
    return "(" + " OR ".join(terms) + ")"


def _key(tags: dict[str, str]) -> Key:
    return tuple(sorted((k, v) for k, v in tags.items() if v))


def _parse(series_key: str) -> Key:
    """The tags of a ``SHOW SERIES`` key such as ``traffic,gateway=a,lane=1`` (InfluxDB
    escapes ``,``, ``=`` and spaces in it with a backslash)."""
    if "\\" not in series_key:  # the usual key: nothing escaped
        return _key(dict(part.partition("=")[::2] for part in series_key.split(",")[1:]))
    tags: dict[str, str] = {}
    name: str | None = None
    current, escaped, first = "", False, True  # first: the measurement's name
    for char in series_key + ",":
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ",":
            if not first and name is not None:
                tags[name] = current
            name, current, first = None, "", False
        elif char == "=" and name is None and not first:
            name, current = current, ""
        else:
            current += char
    return _key(tags)
