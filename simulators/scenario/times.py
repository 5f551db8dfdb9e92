"""Times as scenario files write them, for people, in WIB: durations (``"1h30m"``), scenario
times (``"day2 06:30"``) and times of day (``"13:30"``); see docs/simulators.md."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?$"
)
_DAYTIME = re.compile(r"^day(\d+)\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_duration(value: Any) -> float:
    """``"1h30m"`` -> 5400.0; a number is seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '90m', '1h30m', '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value).strip())
        if not m or not any(m.groups()):
            raise ValueError(f"{value!r} is not a duration like '45s', '90m', '1h30m' or '2d'")
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = d * 86400 + h * 3600 + mi * 60 + s
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_daytime(value: Any) -> float:
    """``"day2 06:30"`` -> seconds after day 1 00:00 WIB (here 30.5 h)."""
    m = _DAYTIME.match(str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a scenario time like 'day1 14:30' (WIB)")
    day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    if day < 1 or hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{value!r}: day counts from 1, then hh:mm[:ss] of a 24 h clock")
    return (day - 1) * 86400.0 + hour * 3600 + minute * 60 + second


def format_daytime(offset: float) -> str:
    """Seconds after day 1 00:00 WIB -> ``"day2 06:30"`` (the inverse of parse_daytime)."""
    day, rest = divmod(round(offset), 86400)
    return f"day{day + 1} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def parse_clock(value: Any) -> float:
    """``"13:30"`` -> seconds after midnight (WIB)."""
    m = _CLOCK.match(str(value).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day like '13:30'")
    return int(m.group(1)) * 3600.0 + int(m.group(2)) * 60
