"""Grafana's expansion of an InfluxQL query, done here so the tests run exactly what Grafana
would send to InfluxDB.

What Grafana (10 and 11, InfluxDB data source, InfluxQL, raw query mode) replaces before it
sends a query, and how (Grafana's documentation: "InfluxDB data source" / "Query editor",
"Variable syntax" and "Formatting multi-value variables"):

- ``$timeFilter``: ``time >= <from>ms and time <= <to>ms`` for an absolute range (a relative
  one becomes ``now() - 6h``; the tests use absolute ranges, so the data they wrote is in it);
- ``$__interval``: the dashboard range divided by the panel's max data points, never below the
  panel's minimum interval, rounded to a "nice" interval (:func:`round_interval`, Grafana's
  ``rangeutil.roundInterval`` table); ``$__interval_ms`` is the same in milliseconds;
- ``$name`` and ``${name}``: a template variable. A multi-value or include-all variable becomes
  ``(v1|v2|...)`` with every value regex-escaped (a single value: the value, escaped), which
  is why every variable in these dashboards is used in a regex, ``=~ /^$gateway$/``.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: Grafana's roundInterval: (below this many ms, use this interval). Past the last, 1y.
_ROUND: tuple[tuple[float, int, str], ...] = (
    (15, 10, "10ms"),
    (35, 20, "20ms"),
    (75, 50, "50ms"),
    (150, 100, "100ms"),
    (350, 200, "200ms"),
    (750, 500, "500ms"),
    (1500, 1000, "1s"),
    (3500, 2000, "2s"),
    (7500, 5000, "5s"),
    (12500, 10000, "10s"),
    (17500, 15000, "15s"),
    (25000, 20000, "20s"),
    (45000, 30000, "30s"),
    (90000, 60000, "1m"),
    (210000, 120000, "2m"),
    (450000, 300000, "5m"),
    (750000, 600000, "10m"),
    (1050000, 900000, "15m"),
    (1500000, 1200000, "20m"),
    (2700000, 1800000, "30m"),
    (5400000, 3600000, "1h"),
    (9000000, 7200000, "2h"),
    (16200000, 10800000, "3h"),
    (32400000, 21600000, "6h"),
    (86400000, 43200000, "12h"),
    (604800000, 86400000, "1d"),
    (1814400000, 604800000, "1w"),
    (3628800000, 2592000000, "30d"),
)
_YEAR = (31536000000, "1y")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}
#: Characters Grafana's escapeRegex escapes in a variable's value.
_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|\[\]{}/])")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
DEFAULT_MAX_DATA_POINTS = 1000


def round_interval(ms: float) -> tuple[int, str]:
    """Grafana's "nice" interval for *ms*: (milliseconds, text such as ``5m``)."""
    for below, value, text in _ROUND:
        if ms < below:
            return value, text
    return _YEAR


def interval_ms(text: str) -> int:
    """Milliseconds in a Grafana interval such as ``1h`` or ``30s``."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    if not match:
        raise ValueError(f"{text!r} is not an interval such as 30s, 5m or 1h")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def panel_interval(
    from_ms: int, to_ms: int, min_interval: str = "", max_data_points: int = 0
) -> tuple[int, str]:
    """``$__interval`` for a panel over [from_ms, to_ms]: (ms, text)."""
    points = max_data_points or DEFAULT_MAX_DATA_POINTS
    ms, text = round_interval((to_ms - from_ms) / points)
    if min_interval and interval_ms(min_interval) > ms:
        return interval_ms(min_interval), min_interval
    return ms, text


def escape_regex(value: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", value)


def format_variable(values: Sequence[str]) -> str:
    """A multi-value variable in a regex, as the InfluxDB data source formats it."""
    escaped = [escape_regex(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def expand(
    query: str,
    from_ms: int,
    to_ms: int,
    *,
    variables: Mapping[str, Sequence[str]] | None = None,
    min_interval: str = "",
    max_data_points: int = 0,
) -> str:
    """*query* as Grafana sends it for the absolute range [from_ms, to_ms]. A variable that
    is not in *variables* is left as it is (InfluxDB then refuses the query: a test sees it)."""
    ms, text = panel_interval(from_ms, to_ms, min_interval, max_data_points)
    out = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    out = out.replace("$__interval_ms", str(ms)).replace("$__interval", text)
    given = variables or {}

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return format_variable(given[name]) if name in given else match.group(0)

    return _VARIABLE.sub(one, out)
