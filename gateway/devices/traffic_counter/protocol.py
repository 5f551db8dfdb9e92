"""Traffic counter protocol core (docs/protocol.md 5.1). Pure: no I/O, no clock.

- :func:`checksum`, :func:`frame_line`, :func:`format_record`, :func:`format_heartbeat`: the
  wire format, shared by the gateway driver and the simulator.
- :func:`parse_line`: one line -> :class:`VehicleRecord` | :class:`Heartbeat`, or
  :class:`RecordError` with a machine-readable ``reason``.
- :class:`LineFramer`: byte chunks as they come off the serial port -> candidate lines.

Aggregation into interval summaries is in :mod:`gateway.devices.traffic_counter.aggregate` and
:mod:`gateway.devices.traffic_counter.summary`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from telemetry.models import MAX_TIME_MS, MIN_TIME_MS

VEHICLE_CLASSES = ("SM", "KR", "KS", "BB", "TB")
DIRECTIONS = ("N", "E", "S", "W")
#: Longest line accepted (a VEH record is about 45 bytes); longer input is cut and rejected.
MAX_LINE = 256
#: Plausibility limits of a record's numbers; larger values are rejected as ``field`` errors.
MAX_SPEED_KMH = 300.0
MAX_LENGTH_M = 40.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEX2 = re.compile(rb"[0-9A-Fa-f]{2}")
_TIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]{3})Z")
_NUMBER = re.compile(r"[0-9]{1,4}(\.[0-9]{1,3})?")


class RecordError(ValueError):
    """A line that is not a valid record. ``reason`` is one of:

    ``format`` (framing, length, bytes, field count), ``checksum`` (mismatch), ``type``
    (unknown record type), ``field`` (a field's value is invalid).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class VehicleRecord:
    time_ms: int  # detection time, ms since the Unix epoch, UTC
    lane: int
    direction: str
    speed_kmh: float
    length_m: float
    vehicle_class: str


@dataclass(frozen=True)
class Heartbeat:
    time_ms: int


Event = VehicleRecord | Heartbeat


# -- wire format ------------------------------------------------------------------------------
def checksum(body: bytes) -> str:
    """XOR of the bytes between ``$`` and ``*``, as two uppercase hex digits."""
    value = 0
    for byte in body:
        value ^= byte
    return f"{value:02X}"


def frame_line(body: str) -> bytes:
    """``$<body>*<checksum>\\r\\n``. Does not validate *body* (tests build bad records with it)."""
    raw = body.encode("ascii")
    return b"$" + raw + b"*" + checksum(raw).encode() + b"\r\n"


def format_time(time_ms: int) -> str:
    """``YYYYMMDDThhmmss.sssZ`` (UTC)."""
    moment = _EPOCH + timedelta(milliseconds=time_ms)
    return moment.strftime("%Y%m%dT%H%M%S") + f".{time_ms % 1000:03d}Z"


def format_record(
    time_ms: int,
    lane: int,
    direction: str,
    speed_kmh: float,
    length_m: float,
    vehicle_class: str,
) -> bytes:
    """The exact wire line of one vehicle; speed and length are written with one decimal."""
    fields = f"{format_time(time_ms)},{lane},{direction},{speed_kmh:.1f},{length_m:.1f}"
    return frame_line(f"VEH,{fields},{vehicle_class}")


def format_heartbeat(time_ms: int) -> bytes:
    return frame_line(f"HBT,{format_time(time_ms)}")


# -- parsing ----------------------------------------------------------------------------------
def _show(data: bytes, limit: int = 48) -> str:
    text = repr(data[:limit])[2:-1]
    return text + "..." if len(data) > limit else text


def parse_line(line: bytes, *, classes: Collection[str] = VEHICLE_CLASSES) -> Event:
    """Parse one line (with or without its ``\\r\\n``). Raises :class:`RecordError` only.

    Checks, in order: length, framing (``$``, ``*hh``), checksum, printable ASCII, record type,
    field count, field values. Hex digits of the checksum are accepted in either case.
    """
    if len(line) > MAX_LINE:
        raise RecordError("format", f"line is longer than {MAX_LINE} bytes: {_show(line)}")
    line = line.strip(b" \t\r\n")
    if not line:
        raise RecordError("format", "line is empty")
    if not line.startswith(b"$"):
        raise RecordError("format", f"line does not start with '$': {_show(line)}")
    star = line.rfind(b"*")
    if star < 0:
        raise RecordError("format", f"no '*' checksum (truncated line?): {_show(line)}")
    body, given = line[1:star], line[star + 1 :]
    if not _HEX2.fullmatch(given):
        raise RecordError("format", f"checksum '{_show(given)}' is not two hex digits")
    expected = checksum(body)
    if given.upper().decode() != expected:
        raise RecordError(
            "checksum", f"checksum {given.decode()} does not match {expected}: {_show(line)}"
        )
    bad = next((b for b in body if not 0x20 <= b <= 0x7E), None)
    if bad is not None:
        raise RecordError("format", f"byte 0x{bad:02x} is not printable ASCII: {_show(line)}")
    fields = body.decode("ascii").split(",")
    if fields[0] == "VEH":
        return _vehicle(fields, classes)
    if fields[0] == "HBT":
        _field_count(fields, ("HBT", "time"))
        return Heartbeat(_time(fields[1]))
    raise RecordError("type", f"unknown record type {fields[0]!r} (expected VEH or HBT)")


_VEH_FIELDS = ("VEH", "time", "lane", "direction", "speed", "length", "class")


def _field_count(fields: list[str], names: tuple[str, ...]) -> None:
    if len(fields) != len(names):
        raise RecordError(
            "format",
            f"{names[0]} record has {len(fields)} fields, expected {len(names)}"
            f" ({','.join(names)})",
        )


def _vehicle(fields: list[str], classes: Collection[str]) -> VehicleRecord:
    _field_count(fields, _VEH_FIELDS)
    _, time_s, lane, direction, speed, length, vehicle_class = fields
    time_ms = _time(time_s)
    if len(lane) != 1 or lane not in "123456789":
        raise RecordError("field", f"lane {lane!r} is not a number from 1 to 9")
    if direction not in DIRECTIONS:
        raise RecordError("field", f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if vehicle_class not in classes:
        raise RecordError(
            "field", f"vehicle class {vehicle_class!r} is not one of {', '.join(classes)}"
        )
    return VehicleRecord(
        time_ms=time_ms,
        lane=int(lane),
        direction=direction,
        speed_kmh=_number("speed", speed, MAX_SPEED_KMH, "km/h"),
        length_m=_number("length", length, MAX_LENGTH_M, "m"),
        vehicle_class=vehicle_class,
    )


def _number(name: str, text: str, maximum: float, unit: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise RecordError("field", f"{name} {text!r} is not a number")
    value = float(text)
    if value > maximum:
        raise RecordError("field", f"{name} {text} {unit} is above {maximum:g} {unit}")
    return value


def _time(text: str) -> int:
    match = _TIME.fullmatch(text)
    if not match:
        raise RecordError("field", f"time {text!r} is not YYYYMMDDThhmmss.sssZ")
    year, month, day, hour, minute, second, milli = (int(g) for g in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise RecordError("field", f"time {text!r} is not a valid date ({exc})") from None
    time_ms = (moment - _EPOCH) // timedelta(milliseconds=1) + milli
    if not MIN_TIME_MS <= time_ms < MAX_TIME_MS:
        raise RecordError("field", f"time {text!r} is not in 2000-2099 (device clock not set?)")
    return time_ms
