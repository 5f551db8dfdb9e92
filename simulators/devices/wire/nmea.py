"""NMEA 0183 sentences as a GPS module sends them (docs/protocol.md 5.4). Pure: no I/O.

Framing (NMEA 0183): ``$`` + talker and sentence type + comma-separated fields + ``*`` + two
upper-case hex digits + CR LF. The checksum is the XOR of every character between ``$`` and
``*``. Written from the standard's description and checked against the sentences published in
NMEA tutorials (the Munich GGA ``*47``, RMC ``*6A``, GSA ``*39``).

Fields written here (NMEA 2.3):

- RMC: UTC ``hhmmss.ss``, status ``A``/``V``, latitude ``ddmm.mmmmm`` and N/S, longitude
  ``dddmm.mmmmm`` and E/W, speed over ground (knots) ``0.0``, course (empty), date ``ddmmyy``,
  magnetic variation and its direction (empty), mode ``A`` (autonomous fix) or ``N`` (none).
  Without a fix the position is empty.
- GGA: UTC, position, fix quality (0 none, 1 GPS), satellites used (two digits), HDOP,
  altitude above mean sea level and ``M``, geoid separation ``0.0`` and ``M``, DGPS age and
  station (empty). Without a fix position, HDOP and altitude are empty.
- GSA: mode ``A``, fix type (1 none, 3 3D), twelve satellite slots, PDOP, HDOP, VDOP.

Positions are written with 5 decimals of a minute (about 2 cm); :class:`Position` holds the
degrees that text stands for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

#: 1e-5 minute: the smallest step of a written position.
_STEPS_PER_MINUTE = 100_000
_STEPS_PER_DEGREE = 60 * _STEPS_PER_MINUTE


def checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``."""
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return value


def sentence(body: str) -> bytes:
    """``$<body>*HH\\r\\n``; *body* is written as given (tests build odd sentences with it)."""
    return b"$%s*%02X\r\n" % (body.encode("ascii"), checksum(body))


@dataclass(frozen=True)
class Position:
    """A position as written: the sentence fields and the degrees they stand for."""

    fields: str  # "ddmm.mmmmm,N,dddmm.mmmmm,E"
    latitude: float
    longitude: float


def _angle(value: float, degree_digits: int, hemispheres: str) -> tuple[str, float]:
    """One coordinate in whole 1e-5 minutes: (``ddmm.mmmmm,H``, the degrees written)."""
    steps = round(abs(value) * _STEPS_PER_DEGREE)
    degrees, rest = divmod(steps, _STEPS_PER_DEGREE)
    minutes, fraction = divmod(rest, _STEPS_PER_MINUTE)
    south_or_west = value < 0 and steps > 0
    text = f"{degrees:0{degree_digits}d}{minutes:02d}.{fraction:05d}"
    written = steps / _STEPS_PER_DEGREE
    return f"{text},{hemispheres[south_or_west]}", -written if south_or_west else written


def position(latitude: float, longitude: float) -> Position:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"position {latitude}, {longitude} is out of range")
    lat_text, lat = _angle(latitude, 2, "NS")
    lon_text, lon = _angle(longitude, 3, "EW")
    return Position(f"{lat_text},{lon_text}", lat, lon)


def utc(time_ms: int) -> tuple[str, str]:
    """(``hhmmss.ss``, ``ddmmyy``) of a time in ms since the epoch (hundredths truncated)."""
    t = time.gmtime(time_ms // 1000)
    hundredths = time_ms % 1000 // 10
    clock = f"{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}.{hundredths:02d}"
    return clock, f"{t.tm_mday:02d}{t.tm_mon:02d}{t.tm_year % 100:02d}"


def rmc(time_ms: int, where: Position | None, talker: str = "GP") -> bytes:
    """Recommended minimum data; *where* None: no fix (status V, mode N, empty position)."""
    clock, date = utc(time_ms)
    if where is None:
        return sentence(f"{talker}RMC,{clock},V,,,,,,,{date},,,N")
    return sentence(f"{talker}RMC,{clock},A,{where.fields},0.0,,{date},,,A")


def altitude_text(altitude: float) -> str:
    """Altitude as GGA writes it: metres with one decimal."""
    return f"{altitude:.1f}"


def gga(
    time_ms: int,
    where: Position | None,
    altitude: float,
    satellites: int,
    *,
    quality: int = 1,
    hdop: float = 0.9,
    talker: str = "GP",
) -> bytes:
    """Fix data; *where* None: no fix (quality 0, empty position, HDOP and altitude)."""
    if not 0 <= satellites <= 99:
        raise ValueError(f"satellites must be 0-99, got {satellites}")
    clock, _ = utc(time_ms)
    if where is None:
        return sentence(f"{talker}GGA,{clock},,,,,0,{satellites:02d},,,M,,M,,")
    return sentence(
        f"{talker}GGA,{clock},{where.fields},{quality},{satellites:02d},{hdop:.1f},"
        f"{altitude_text(altitude)},M,0.0,M,,"
    )


def gsa(
    fix_3d: bool,
    satellites: Sequence[int],
    pdop: float,
    hdop: float,
    vdop: float,
    talker: str = "GP",
) -> bytes:
    """DOP and active satellites: mode A, fix type 3 (3D) or 1 (none), twelve PRN slots."""
    if len(satellites) > 12:
        raise ValueError("GSA has twelve satellite slots")
    slots = [f"{prn:02d}" for prn in satellites] + [""] * (12 - len(satellites))
    dops = f"{pdop:.1f},{hdop:.1f},{vdop:.1f}"
    return sentence(f"{talker}GSA,A,{3 if fix_3d else 1},{','.join(slots)},{dops}")
