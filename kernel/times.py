"""Time formatting for API responses: UTC in the data, WIB (Asia/Jakarta) for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
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
