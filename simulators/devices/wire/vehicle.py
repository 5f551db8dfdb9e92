"""The traffic counter's lines (docs/protocol.md 5.1): ``$VEH`` records and ``$HBT`` heartbeats.

``$VEH,<time>,<lane>,<direction>,<speed>,<length>,<class>*cc\\r\\n`` with the detection time as
``YYYYMMDDThhmmss.sssZ`` (UTC), the lane 1-9, the direction N/E/S/W, the spot speed (km/h)
and the vehicle length (m) with one decimal, the class code; ``cc`` is the XOR of every byte
between ``$`` and ``*`` as two upper-case hex digits. A heartbeat is ``$HBT,<time>*cc``. Checked
against the examples of docs/protocol.md (``...,SM*1B``, ``$HBT,20261130T080010.000Z*6E``).
Pure: no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


def checksum(body: str) -> int:
    value = 0
    for byte in body.encode("ascii"):
        value ^= byte
    return value


def line(body: str) -> bytes:
    """``$<body>*cc\\r\\n``; *body* is written as given (tests build odd lines with it)."""
    return f"${body}*{checksum(body):02X}\r\n".encode("ascii")


def timestamp(time_ms: int) -> str:
    """``YYYYMMDDThhmmss.sssZ`` of a time in ms since the epoch."""
    if time_ms < 0:
        raise ValueError(f"time {time_ms} ms is before 1970")
    t = time.gmtime(time_ms // 1000)
    return (
        f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}.{time_ms % 1000:03d}Z"
    )


def tenths(value: float) -> tuple[str, float]:
    """A non-negative number with one decimal: (the text, the number it stands for)."""
    if not value >= 0:
        raise ValueError(f"{value!r} is not a non-negative number")
    n = round(value * 10)
    return f"{n // 10}.{n % 10}", n / 10


@dataclass(frozen=True)
class Record:
    """One ``$VEH`` line and the values it carries."""

    line: bytes
    speed: float  # km/h, as written
    length: float  # m, as written


def vehicle(
    time_ms: int, lane: int, direction: str, speed: float, length: float, vehicle_class: str
) -> Record:
    if not 1 <= lane <= 9 or direction not in ("N", "E", "S", "W"):
        raise ValueError(f"lane {lane} / direction {direction!r}: lanes are 1-9, N/E/S/W")
    speed_text, speed_sent = tenths(speed)
    length_text, length_sent = tenths(length)
    body = f"VEH,{timestamp(time_ms)},{lane},{direction},{speed_text},{length_text},{vehicle_class}"
    return Record(line(body), speed_sent, length_sent)


def heartbeat(time_ms: int) -> bytes:
    return line(f"HBT,{timestamp(time_ms)}")
