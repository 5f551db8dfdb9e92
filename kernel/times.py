"""Times for people, defined once: UTC in data and on the wire, WIB (Asia/Jakarta) on screen.

Data (payloads, the store, the API's ``time`` fields) is UTC, epoch milliseconds or ISO 8601
with ``Z``. People read Western Indonesia Time: UTC+7 all year (Indonesia has no daylight
saving), so local calendar arithmetic (hour of day, day number, midnight) is a fixed offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

#: Western Indonesia Time, for rendering.
WIB = ZoneInfo("Asia/Jakarta")
#: WIB's offset from UTC, seconds: fixed (no daylight saving), for calendar arithmetic.
WIB_OFFSET_S = 7 * 3600
DAY_S = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def utc_iso(ms: int | None) -> str | None:
    """``1764489605123`` -> ``"2025-11-30T08:00:05.123Z"`` (ISO 8601, UTC, milliseconds)."""
    if ms is None:
        return None
    return _datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wib_iso(ms: int | None) -> str | None:
    """``1764489605123`` -> ``"2025-11-30T15:00:05.123+07:00"`` (Western Indonesia Time)."""
    if ms is None:
        return None
    return _datetime(ms).astimezone(WIB).isoformat(timespec="milliseconds")


def wib_text(seconds: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Unix time -> a WIB time for a person, e.g. ``2026-11-30 16:28:37``."""
    return datetime.fromtimestamp(seconds, WIB).strftime(fmt)


def wib_hour(seconds: float) -> float:
    """Hour of the WIB day (0 <= h < 24, fractional) of a unix time."""
    return ((seconds + WIB_OFFSET_S) % DAY_S) / 3600.0


def wib_day(seconds: float) -> int:
    """The WIB calendar day of a unix time, as days since 1970-01-01."""
    return int((seconds + WIB_OFFSET_S) // DAY_S)


def wib_midnight(day: int) -> float:
    """Unix time of 00:00 WIB of *day* (days since 1970-01-01, as :func:`wib_day` counts)."""
    return day * DAY_S - WIB_OFFSET_S


def zone_iso(ms: int, zone: ZoneInfo) -> str:
    """``1764489600000`` in Asia/Jakarta -> ``"2025-11-30T15:00:00.000+07:00"``."""
    return _datetime(ms).astimezone(zone).isoformat(timespec="milliseconds")


def fixed_offset_ms(zone: ZoneInfo, start_ms: int, end_ms: int) -> int | None:
    """The zone's offset from UTC in ms if it is the same all through the years of
    [start, end) (no daylight saving, no change of the zone's rules); else None."""
    first, last = _datetime(start_ms).year, _datetime(max(start_ms, end_ms - 1)).year
    instants = [_datetime(start_ms), _datetime(max(start_ms, end_ms - 1))]
    for year in range(first, last + 1):
        instants += [datetime(year, month, 1, tzinfo=UTC) for month in (1, 4, 7, 10)]
    offsets = {instant.astimezone(zone).utcoffset() for instant in instants}
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds() * 1000) if offset is not None else None
