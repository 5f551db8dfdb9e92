"""Times for people, defined once (kernel/times.py): UTC in data, WIB on screen."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from kernel.times import (
    DAY_S,
    WIB,
    utc_iso,
    wib_day,
    wib_hour,
    wib_iso,
    wib_midnight,
    wib_text,
)

T = 1_764_489_605_123  # 2025-11-30T08:00:05.123Z


def test_renderings() -> None:
    assert utc_iso(T) == "2025-11-30T08:00:05.123Z"
    assert wib_iso(T) == "2025-11-30T15:00:05.123+07:00"
    assert utc_iso(None) is None and wib_iso(None) is None
    assert wib_text(T / 1000) == "2025-11-30 15:00:05"
    assert wib_text(T / 1000, "%H:%M") == "15:00"


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_calendar_arithmetic_agrees_with_the_time_zone(seconds: float) -> None:
    local = datetime.fromtimestamp(seconds, WIB)
    assert wib_day(seconds) == local.toordinal() - datetime(1970, 1, 1).toordinal()
    midnight = wib_midnight(wib_day(seconds))
    assert midnight <= seconds < midnight + DAY_S
    assert datetime.fromtimestamp(midnight, WIB).strftime("%H:%M:%S") == "00:00:00"
    assert abs(wib_hour(seconds) - (seconds - midnight) / 3600) < 1e-6
