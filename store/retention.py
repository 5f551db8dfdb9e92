"""Retention policies and rollups (InfluxDB 1.x continuous queries), made by ``store setup``.

Layout in the database (default ``jagajalan``):

    RP raw        DEFAULT, 90 days (configurable): every point ingest writes
    RP rollup_1m  2 years: 1-minute rollups
    RP rollup_1h  forever: 1-hour rollups

A rollup point has the measurement and tags of its raw points and, for every raw field ``f``,
the fields ``mean_f``, ``min_f``, ``max_f`` and ``count_f`` (the number of raw values); the
additive fields (vehicle ``count``, ``rain``, and ``readings`` of ``gateway_batches``) also get
``sum_f``, so vehicles per hour are ``sum_count`` of ``rollup_1h``. Both rollups are computed
from raw points (exact means; counts never averaged). Each continuous query recomputes a few
past intervals (``RESAMPLE ... FOR``) to take readings that arrive late; a gateway that comes
back after a longer outage needs :func:`backfill` for its window.

Statement building is pure (:func:`policy_statements` and :func:`query_statements` compare
what the server shows with the settings and return what to run; ``store.setup`` runs them as
an admin). :func:`backfill` runs the rollup queries through an
:class:`~store.influx.InfluxStore` whose user may read and write the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.influxql import quote_ident

if TYPE_CHECKING:
    from store.influx import InfluxStore

RAW = "raw"
ROLLUPS = {"1m": "rollup_1m", "1h": "rollup_1h"}  # interval -> retention policy (and CQ) name
#: Fields whose rollup also carries the sum (counts of things in an interval, never levels).
ADDITIVE_FIELDS = ("count", "rain", "readings")
AGGREGATES = ("mean", "min", "max", "count")

_DURATION = re.compile(r"^(?:INF|(?:\d+(?:ns|us|ms|s|m|h|d|w))+)$")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """Seconds in an InfluxQL duration such as ``90d`` or ``1h30m``; INF is infinite.
    Raises ValueError for anything else."""
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration such as 90d, 12h, 2w or INF")
    if text == "INF":
        return float("inf")
    return sum(int(n) * _UNIT_S[u] for n, u in re.findall(r"(\d+)(ns|us|ms|s|m|h|d|w)", text))


@dataclass(frozen=True)
class RetentionSettings:
    raw: str = "90d"
    raw_shard: str = "1d"
    rollup_1m: str = "730d"
    rollup_1h: str = "INF"
    resample_1m: str = "10m"  # recompute the last 10 one-minute intervals every minute
    resample_1h: str = "2h"

    def problems(self) -> list[tuple[str, str, str]]:
        """(setting, value, message) for every bad value; empty when all are fine."""
        out = []
        for name in ("raw", "raw_shard", "rollup_1m", "rollup_1h", "resample_1m", "resample_1h"):
            value = getattr(self, name)
            try:
                seconds = duration_seconds(value)
            except ValueError as exc:
                out.append((name, value, str(exc)))
                continue
            if name in ("raw", "rollup_1m", "rollup_1h") and seconds < 3600:
                out.append((name, value, "InfluxDB keeps data at least 1h: use 1h or more"))
        return out


def rp_durations(settings: RetentionSettings) -> dict[str, str]:
    return {RAW: settings.raw, ROLLUPS["1m"]: settings.rollup_1m, ROLLUPS["1h"]: settings.rollup_1h}


def rollup_select(db: str, interval: str, start_ms: int | None = None, end_ms: int | None = None):
    """The SELECT ... INTO of the *interval* rollup, for a window when given (backfill)."""
    aggregates = ", ".join(f"{a}(*)" for a in AGGREGATES)
    sums = ", ".join(f"sum({quote_ident(f)}) AS {quote_ident('sum_' + f)}" for f in ADDITIVE_FIELDS)
    where = ""
    if start_ms is not None and end_ms is not None:
        where = f" WHERE time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"
    d = quote_ident(db)
    target = f"{d}.{quote_ident(ROLLUPS[interval])}.:MEASUREMENT"
    source = f"{d}.{quote_ident(RAW)}./.*/"
    group = f" GROUP BY time({interval}), *"
    return [
        f"SELECT {aggregates} INTO {target} FROM {source}{where}{group}",
        f"SELECT {sums} INTO {target} FROM {source}{where}{group}",
    ]


def cq_statements(db: str, settings: RetentionSettings) -> dict[str, str]:
    """CQ name -> CREATE CONTINUOUS QUERY statement (two CQs per rollup: aggregates, sums)."""
    out = {}
    for interval, name in ROLLUPS.items():
        resample = settings.resample_1m if interval == "1m" else settings.resample_1h
        for suffix, select in zip(("", "_sum"), rollup_select(db, interval), strict=True):
            cq = f"{name}{suffix}"
            out[cq] = (
                f"CREATE CONTINUOUS QUERY {quote_ident(cq)} ON {quote_ident(db)} "
                f"RESAMPLE EVERY {interval} FOR {resample} BEGIN {select} END"
            )
    return out


def _normal(statement: str) -> str:
    return " ".join(statement.replace('"', "").split())


def policy_statements(db: str, settings: RetentionSettings, shown: dict[str, list]) -> list[str]:
    """CREATE or ALTER RETENTION POLICY statements that make the policies match *settings*,
    given the rows of ``SHOW RETENTION POLICIES`` by name (empty for a new database)."""
    out = []
    for name, duration in rp_durations(settings).items():
        shard = f" SHARD DURATION {settings.raw_shard}" if name == RAW else ""
        default = " DEFAULT" if name == RAW else ""
        row = shown.get(name)
        if row is None:
            out.append(
                f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)} "
                f"DURATION {duration} REPLICATION 1{shard}{default}"
            )
        elif not _same_rp(row, duration, shard and settings.raw_shard, bool(default)):
            out.append(
                f"ALTER RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)} "
                f"DURATION {duration}{shard}{default}"
            )
    return out


def query_statements(db: str, settings: RetentionSettings, shown: dict[str, str]) -> list[str]:
    """CREATE (and, for one that changed, first DROP) CONTINUOUS QUERY statements, given the
    queries ``SHOW CONTINUOUS QUERIES`` lists for *db* by name."""
    out = []
    for name, statement in cq_statements(db, settings).items():
        if name in shown and _normal(shown[name]) == _normal(statement):
            continue
        if name in shown:
            out.append(f"DROP CONTINUOUS QUERY {quote_ident(name)} ON {quote_ident(db)}")
        out.append(statement)
    return out


def _same_rp(row: list, duration: str, shard: str, default: bool) -> bool:
    # SHOW RETENTION POLICIES row: name, duration ("2160h0m0s", "0s" = INF), shard, n, default
    want = duration_seconds(duration)
    have = _go_seconds(row[1]) or float("inf")
    if want != have or bool(row[4]) != default:
        return False
    return not shard or _go_seconds(row[2]) == duration_seconds(shard)


def _go_seconds(text: str) -> float:
    """Seconds in a Go duration string as InfluxDB shows it (``2160h0m0s``)."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|us|µs|ns|h|m|s)", text))


def backfill(store: InfluxStore, start_ms: int, end_ms: int) -> int:
    """Recompute both rollups for [start_ms, end_ms) (widened to whole hours), e.g. after a
    gateway delivered an old backlog. Returns the number of rollup points (of both
    intervals) written."""
    start = start_ms - start_ms % 3_600_000
    end = end_ms + (-end_ms) % 3_600_000
    written = 0
    for interval in ROLLUPS:
        aggregates, sums = rollup_select(store.database, interval, start, end)
        store.execute(sums)
        for result in store.execute(aggregates):  # "written": one row, the rollup points
            for series in result.get("series", []):
                written += sum(int(row[1]) for row in series.get("values", []))
    return written
