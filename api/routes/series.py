"""``GET /series``: one field over a time window, raw or per minute, hour or day, paged by a
keyset cursor, as JSON or streamed CSV.

Everything is read through :meth:`store.StoreReader.series` (raw points on both backends; the
rollups are not read yet). A page costs the same wherever it is: the cursor carries the time
of the last row returned and the next page asks the store for what comes after it (never an
OFFSET). Times are ISO 8601 with the offset of ``tz`` (default Asia/Jakarta, so days begin
at midnight WIB). A value the route cannot answer is a 400 ``invalid_parameter`` naming the
parameter and the value (:class:`api.errors.InvalidParameter`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.deps import StoreDep
from api.errors import BAD_PARAMETER, INVALID_REQUEST, STORE_ERRORS, InvalidParameter
from api.sites import site_gateway
from kernel.times import fixed_offset_ms, zone_iso
from store import SeriesQuery, SeriesRefused, SeriesRow, StoreReader
from store.base import AGGREGATES, WINDOWS_MS
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, NAME_PATTERN
from telemetry.topics import ID_PATTERN
from telemetry.units import FIELDS

router = APIRouter(tags=["series"])

WINDOWS = ("raw", *WINDOWS_MS)
#: The longest window (end - start) a request may span, per window: a raw month is already
#: 43,200 one-minute values per series; hours and days reach back ten years.
MAX_SPAN = {
    "raw": timedelta(days=31),
    "1m": timedelta(days=92),
    "1h": timedelta(days=3660),
    "1d": timedelta(days=3660),
}
DEFAULT_SPAN = timedelta(hours=24)
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
#: Rows fetched from the store per page while a CSV streams.
CSV_PAGE = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_SLACK = 2 * WINDOWS_MS["1d"]
#: Times a query may name: those readings may have (telemetry.models), and no date arithmetic
#: near year 1 or 9999 that would overflow.
TIME_RANGE = "must be from 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z (readings lie in between)"
_NAME_RE, _ID_RE = re.compile(f"^{NAME_PATTERN}$"), re.compile(f"^{ID_PATTERN}$")


class SeriesPoint(BaseModel):
    time: str = Field(
        description="ISO 8601 with the offset of tz; for a window, the window's start",
        examples=["2025-11-30T15:00:00.000+07:00"],
    )
    value: int | float | str | bool = Field(
        description="the value, or the window's aggregate (count: integer; mean: float)",
        examples=[41.3],
    )
    gateway: str | None = Field(
        description="raw only: where the value comes from", examples=["srl-pasar-01"]
    )
    sensor: str | None = Field(description="raw only", examples=["env1"])
    tags: dict[str, str] | None = Field(
        description="raw only: the reading's own tags (lane, direction)", examples=[{}]
    )


class SeriesPage(BaseModel):
    measurement: str = Field(examples=["air_quality"])
    field: str = Field(examples=["pm25"])
    gateway: str | None = Field(examples=["srl-pasar-01"])
    sensor: str | None = Field(examples=[None])
    window: str = Field(description="raw, 1m, 1h or 1d", examples=["1h"])
    agg: str | None = Field(description="null for raw", examples=["mean"])
    tz: str = Field(examples=["Asia/Jakarta"])
    unit: str | None = Field(
        description="the field's unit (docs/protocol.md 2.2)", examples=["ug/m3"]
    )
    start: str = Field(examples=["2025-11-30T00:00:00.000+07:00"])
    end: str = Field(examples=["2025-12-01T00:00:00.000+07:00"])
    points: list[SeriesPoint]
    next: str | None = Field(
        description="URL of the next page; null after the last",
        examples=["http://127.0.0.1:8000/series?measurement=air_quality&field=pm25&cursor=eyJh"],
    )


@dataclass(frozen=True)
class Params:
    """The validated request: the store query plus what the answer repeats."""

    query: SeriesQuery
    window: str
    zone: ZoneInfo
    after_ms: int | None
    limit: int
    csv: bool


def _time(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(name, text, "is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InvalidParameter(name, text, "give the zone: 2025-11-30T15:00:00+07:00 or ...Z")
    if not MIN_TIME_MS <= _ms(value) <= MAX_TIME_MS:
        raise InvalidParameter(name, text, TIME_RANGE)
    return value


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)  # exact: no float on the way


def _fingerprint(query: SeriesQuery) -> str:
    parts = [query.measurement, query.field, query.gateway, query.sensor, query.window]
    parts += [query.agg, query.tz, query.start_ms, query.end_ms]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def encode_cursor(query: SeriesQuery, after_ms: int) -> str:
    raw = json.dumps({"after": after_ms, "q": _fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SeriesQuery, cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, fingerprint = data["after"], data["q"]
    except (ValueError, TypeError, KeyError):
        raise InvalidParameter("cursor", cursor, "is not a cursor this API gave") from None
    if fingerprint != _fingerprint(query):
        raise InvalidParameter(
            "cursor", cursor, "belongs to another query: keep the other parameters of its page"
        )
    # The time of a row of this query: within its window (a window's row may start up to a
    # day before `start`). Anything else, say 1e300 or Infinity, was not given by this API.
    if type(after) is not int or not query.start_ms - _CURSOR_SLACK <= after < query.end_ms:
        raise InvalidParameter("cursor", cursor, "is not a cursor this API gave")
    return after


def parse(
    *,
    measurement: str,
    field: str,
    gateway: str | None,
    sensor: str | None,
    start: str | None,
    end: str | None,
    window: str,
    agg: str,
    tz: str,
    limit: int,
    cursor: str | None,
    fmt: str | None,
    accept: str,
) -> Params:
    for name, value, rule in (
        ("measurement", measurement, _NAME_RE),
        ("field", field, _NAME_RE),
        ("gateway", gateway, _ID_RE),
        ("sensor", sensor, _ID_RE),
    ):
        if value is not None and not rule.match(value):
            raise InvalidParameter(name, value, f"must match {rule.pattern}")
    if window not in WINDOWS:
        raise InvalidParameter("window", window, f"must be one of {', '.join(WINDOWS)}")
    if agg not in AGGREGATES:
        raise InvalidParameter("agg", agg, f"must be one of {', '.join(AGGREGATES)}")
    if fmt not in (None, "json", "csv"):
        raise InvalidParameter("format", fmt, "must be json or csv")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter("limit", limit, f"must be from 1 to {MAX_LIMIT}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter("tz", tz, "is not a time zone (e.g. Asia/Jakarta, UTC)") from None
    end_dt = _time("end", end) or datetime.now(zone)
    start_dt = _time("start", start) or end_dt - DEFAULT_SPAN
    if start_dt >= end_dt:
        raise InvalidParameter("start", start, f"must be before end ({end_dt.isoformat()})")
    if end_dt - start_dt > MAX_SPAN[window]:
        days = MAX_SPAN[window].days
        raise InvalidParameter(
            "window",
            window,
            f"spans at most {days} days from start to end; ask a coarser window or a shorter span",
        )
    start_ms, end_ms = _ms(start_dt), _ms(end_dt)
    offset = fixed_offset_ms(zone, start_ms, end_ms)
    if offset is None:
        raise InvalidParameter("tz", tz, "zones with daylight saving are not supported yet")
    query = SeriesQuery(
        measurement,
        field,
        start_ms,
        end_ms,
        gateway,
        sensor,
        None if window == "raw" else window,
        agg,
        tz,
        offset,
    )
    after = decode_cursor(query, cursor) if cursor is not None else None
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in accept.lower())
    return Params(query=query, window=window, zone=zone, after_ms=after, limit=limit, csv=wants_csv)


def _page(store: StoreReader, p: Params, after_ms: int | None, limit: int) -> list[SeriesRow]:
    try:
        return store.series(p.query, after_ms, limit)
    except SeriesRefused as exc:
        raise InvalidParameter("agg", p.query.agg, str(exc)) from None


def _tags(tags: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _csv_rows(store: StoreReader, p: Params, first: list[SeriesRow]) -> Iterator[str]:
    """The header, then one line per row, page by page: at most one page in memory."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    raw = p.query.window is None
    out.writerow(["time", "gateway", "sensor", "tags", "value"] if raw else ["time", "value"])
    page = first
    while True:
        for r in page:
            time = zone_iso(r.time_ms, p.zone)
            if raw:
                out.writerow([time, r.gateway or "", r.sensor or "", _tags(r.tags), r.value])
            else:
                out.writerow([time, r.value])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < CSV_PAGE:
            return
        page = _page(store, p, page[-1].time_ms, CSV_PAGE)


CSV_EXAMPLE = (
    "time,gateway,sensor,tags,value\n2025-11-30T15:00:00.000+07:00,srl-pasar-01,env1,,41.3\n"
)
GatewayQ = Annotated[str | None, Query(description="only this gateway", examples=["srl-pasar-01"])]
SiteQ = Annotated[
    str | None,
    Query(
        description="only this site's gateway (the registry's; a site with several: name the "
        "gateway too)",
        examples=["pasar-sarolangun"],
    ),
]
SensorQ = Annotated[str | None, Query(description="only this sensor", examples=["env1"])]


@router.get(
    "/series",
    response_model=SeriesPage,
    summary="One field over time: raw, or mean/min/max/sum/count per minute, hour or day",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}}},
        **BAD_PARAMETER,
        **INVALID_REQUEST,
        **STORE_ERRORS,
    },
)
def series(
    request: Request,
    store: StoreDep,
    measurement: Annotated[str, Query(description="e.g. air_quality", examples=["air_quality"])],
    field: Annotated[str, Query(description="e.g. pm25", examples=["pm25"])],
    gateway: GatewayQ = None,
    sensor: SensorQ = None,
    site: SiteQ = None,
    start: Annotated[
        str | None,
        Query(
            description="ISO 8601 with zone, included; default: 24 hours before end",
            examples=["2025-11-30T00:00:00+07:00"],
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            description="ISO 8601 with zone, excluded; default: now",
            examples=["2025-12-01T00:00:00+07:00"],
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    window: Annotated[str, Query(description="raw, 1m, 1h or 1d", examples=["1h"])] = "raw",
    agg: Annotated[
        str, Query(description="mean, min, max, sum or count", examples=["max"])
    ] = "mean",
    tz: Annotated[
        str, Query(description="IANA zone of windows and times", examples=["Asia/Jakarta"])
    ] = "Asia/Jakarta",
    limit: Annotated[
        int, Query(description=f"rows per page, 1-{MAX_LIMIT}", examples=[100])
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(description="the `next` of the page before (copied from its URL)", examples=[None]),
    ] = None,
    format: Annotated[
        str | None, Query(description="json (default) or csv", examples=["csv"])
    ] = None,
):
    """Oldest first. Raw: every value with its gateway, sensor and tags (a page never splits
    a time, so it may run over `limit`). A window: one row per window that holds values, all
    matching series combined. See docs/api.md."""
    if site is not None:
        gateway = site_gateway(request.app.state.registry, site, gateway)
    p = parse(
        measurement=measurement,
        field=field,
        gateway=gateway,
        sensor=sensor,
        start=start,
        end=end,
        window=window,
        agg=agg,
        tz=tz,
        limit=limit,
        cursor=cursor,
        fmt=format,
        accept=request.headers.get("accept", ""),
    )
    if p.csv:
        first = _page(store, p, p.after_ms, CSV_PAGE)  # store errors answer before streaming
        name = f"{measurement}_{field}_{window}.csv"
        return StreamingResponse(
            _csv_rows(store, p, first),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    rows = _page(store, p, p.after_ms, limit)
    next_url = None
    if len(rows) >= limit:
        params = dict(request.query_params)
        params.update(
            start=zone_iso(p.query.start_ms, p.zone),
            end=zone_iso(p.query.end_ms, p.zone),
            cursor=encode_cursor(p.query, rows[-1].time_ms),
        )
        next_url = str(request.url.replace_query_params(**params))
    raw = p.query.window is None
    spec = FIELDS.get(field)
    page = SeriesPage(
        measurement=measurement,
        field=field,
        gateway=gateway,
        sensor=sensor,
        window=window,
        agg=None if raw else agg,
        tz=tz,
        unit=spec.unit if spec else None,
        start=zone_iso(p.query.start_ms, p.zone),
        end=zone_iso(p.query.end_ms, p.zone),
        points=[
            SeriesPoint(
                time=zone_iso(r.time_ms, p.zone),
                value=r.value,
                gateway=r.gateway if raw else None,
                sensor=r.sensor if raw else None,
                tags=r.tags if raw else None,
            )
            for r in rows
        ],
        next=next_url,
    )
    # One pydantic step: FastAPI's validate-and-encode of a 1,000-row page cost more than
    # reading it (bench/series.py)
    return Response(page.model_dump_json(), media_type="application/json")
