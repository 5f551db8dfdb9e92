"""NMEA 0183 from the gateway's own GPS module (docs/protocol.md 5.4). Pure: no I/O, no clock.

- :func:`parse_sentence`: one line -> :class:`Rmc` | :class:`Gga` | :class:`Other`, or
  :class:`NmeaError` with a machine-readable ``reason``. Framing, checksum and sentence type
  go through pynmea2 (checksum required); the fields of RMC and GGA are then checked here,
  strictly (pynmea2 hands back unparsable values as raw strings).
- :class:`GpsTracker`: the events -> what the gateway reports: fix, satellites, position.
- :class:`OffsetEstimator`, :func:`week_rollover_suspected`: gateway clock minus GPS time.
- :func:`format_rmc`, :func:`format_gga`: the wire format, for the simulator and the tests.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pynmea2

from telemetry.models import MAX_TIME_MS, MIN_TIME_MS

MAX_LINE = 256
#: GGA fix qualities that are a real position fix (1 GPS, 2 DGPS, 3 PPS, 4 RTK, 5 float RTK);
#: 0 is no fix, 6 dead reckoning, 7 manual input, 8 simulation.
FIX_QUALITIES = frozenset({1, 2, 3, 4, 5})
#: RMC mode indicators (NMEA 2.3+) that go with a real fix; N (none), E (estimated),
#: M (manual) and S (simulator) do not.
FIX_MODES = frozenset("ADFPR")
#: GPS week numbers roll over every 1024 weeks; an old receiver then reports a date that much
#: in the past.
WEEK_ROLLOVER_S = 1024 * 7 * 86400

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME = re.compile(r"([01][0-9]|2[0-3])([0-5][0-9])([0-5][0-9]|60)(?:\.([0-9]{1,3}))?")
_DATE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})")
_LAT = re.compile(r"([0-9]{2})([0-5][0-9](?:\.[0-9]{1,7})?)")
_LON = re.compile(r"([0-9]{3})([0-5][0-9](?:\.[0-9]{1,7})?)")
_DECIMAL = re.compile(r"-?[0-9]{1,6}(?:\.[0-9]{1,4})?")


class NmeaError(ValueError):
    """A line that is not a usable NMEA sentence. ``reason`` is one of:

    ``format`` (framing, length, bytes, missing checksum), ``checksum`` (mismatch),
    ``field`` (an RMC or GGA field is invalid).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Rmc:
    talker: str
    time_ms: int | None  # UTC of the fix, ms since the Unix epoch; None without date or time
    valid: bool  # status A (and a mode indicator of a real fix, when there is one)
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class Gga:
    talker: str
    time_of_day_ms: int | None  # ms since 00:00 UTC
    quality: int
    satellites: int | None
    hdop: float | None
    latitude: float | None
    longitude: float | None
    altitude: float | None  # m above mean sea level

    @property
    def fix(self) -> bool:
        return self.quality in FIX_QUALITIES


@dataclass(frozen=True)
class Other:
    """A well-formed sentence with a good checksum that the gateway does not use (GSV, ...)."""

    sentence: str


Event = Rmc | Gga | Other


# -- parsing ----------------------------------------------------------------------------------
def _show(data: bytes | str, limit: int = 60) -> str:
    text = repr(data[:limit])[2:-1] if isinstance(data, bytes) else data[:limit]
    return text + "..." if len(data) > limit else text


def parse_sentence(line: bytes) -> Event:
    """Parse one line (with or without ``\\r\\n``). Raises :class:`NmeaError` only."""
    if len(line) > MAX_LINE:
        raise NmeaError("format", f"line is longer than {MAX_LINE} bytes: {_show(line)}")
    line = line.strip(b" \t\r\n")
    if not line:
        raise NmeaError("format", "line is empty")
    if not line.startswith(b"$"):
        raise NmeaError("format", f"line does not start with '$': {_show(line)}")
    bad = next((b for b in line if not 0x20 <= b <= 0x7E), None)
    if bad is not None:
        raise NmeaError("format", f"byte 0x{bad:02x} is not printable ASCII: {_show(line)}")
    text = line.decode("ascii")
    if not re.search(r"\*[0-9A-Fa-f]{2}$", text):
        raise NmeaError("format", f"no '*hh' checksum at the end (truncated?): {_show(text)}")
    try:
        message = pynmea2.parse(text, check=True)
    except pynmea2.ChecksumError as exc:
        raise NmeaError("checksum", f"{exc.args[0][0]}: {_show(text)}") from None
    except pynmea2.SentenceTypeError:
        return Other(text[1:].split(",", 1)[0])  # checked before the type: the checksum is good
    except pynmea2.ParseError as exc:
        raise NmeaError("format", f"{exc.args[0][0]}: {_show(text)}") from None
    except Exception as exc:  # pynmea2 is not ours: never let it crash the gateway
        raise NmeaError("format", f"not parsable ({type(exc).__name__}): {_show(text)}") from None
    kind = type(message).__name__
    if kind == "RMC":
        return _rmc(message.talker, message.data)
    if kind == "GGA":
        return _gga(message.talker, message.data)
    return Other(text[1:].split(",", 1)[0])


def _fields(data: list[str], needed: int, kind: str) -> list[str]:
    if len(data) < needed:
        raise NmeaError("format", f"{kind} has {len(data)} fields, expected at least {needed}")
    return data


def _rmc(talker: str, data: list[str]) -> Rmc:
    time_s, status, lat, ns, lon, ew, _sog, _cog, date_s = _fields(data, 9, "RMC")[:9]
    if status not in ("A", "V"):
        raise NmeaError("field", f"RMC status {status!r} is not A or V")
    mode = data[11] if len(data) > 11 and data[11] else None
    valid = status == "A" and (mode is None or mode in FIX_MODES)
    latitude, longitude = _position(lat, ns, lon, ew, required=valid, kind="RMC")
    time_ms = None
    if time_s and date_s:
        time_ms = _date_ms(date_s) + _time_of_day_ms(time_s)
        if not MIN_TIME_MS <= time_ms < MAX_TIME_MS:
            raise NmeaError("field", f"RMC date {date_s!r} is not in 2000-2099")
    elif time_s:
        _time_of_day_ms(time_s)  # still checked
    return Rmc(talker, time_ms, valid, latitude, longitude)


def _gga(talker: str, data: list[str]) -> Gga:
    time_s, lat, ns, lon, ew, quality_s, sats_s, hdop_s, alt_s = _fields(data, 9, "GGA")[:9]
    if not quality_s.isdigit() or len(quality_s) != 1:
        raise NmeaError("field", f"GGA fix quality {quality_s!r} is not a digit 0-8")
    quality = int(quality_s)
    fix = quality in FIX_QUALITIES
    latitude, longitude = _position(lat, ns, lon, ew, required=fix, kind="GGA")
    if sats_s and (not sats_s.isdigit() or len(sats_s) > 2):
        raise NmeaError("field", f"GGA satellites {sats_s!r} is not a number 0-99")
    if len(data) > 9 and data[9] not in ("M", ""):
        raise NmeaError("field", f"GGA altitude unit {data[9]!r} is not M")
    return Gga(
        talker=talker,
        time_of_day_ms=_time_of_day_ms(time_s) if time_s else None,
        quality=quality,
        satellites=int(sats_s) if sats_s else None,
        hdop=_decimal("GGA HDOP", hdop_s),
        latitude=latitude,
        longitude=longitude,
        altitude=_decimal("GGA altitude", alt_s),
    )


def _decimal(name: str, text: str) -> float | None:
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise NmeaError("field", f"{name} {text!r} is not a number")
    return float(text)


def _time_of_day_ms(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise NmeaError("field", f"time {text!r} is not hhmmss[.sss]")
    hours, minutes, seconds = (int(g) for g in match.groups()[:3])
    fraction = int((match.group(4) or "0").ljust(3, "0"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + fraction


def _date_ms(text: str) -> int:
    match = _DATE.fullmatch(text)
    if match is None:
        raise NmeaError("field", f"date {text!r} is not ddmmyy")
    day, month, year = (int(g) for g in match.groups())
    year += 1900 if year >= 80 else 2000  # GPS dates start in 1980
    try:
        moment = datetime(year, month, day, tzinfo=UTC)
    except ValueError as exc:
        raise NmeaError("field", f"date {text!r} is not a valid date ({exc})") from None
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _position(
    lat: str, ns: str, lon: str, ew: str, *, required: bool, kind: str
) -> tuple[float | None, float | None]:
    if not (lat or lon or ns or ew):
        if required:
            raise NmeaError("field", f"{kind} reports a fix without a position")
        return None, None
    match_lat, match_lon = _LAT.fullmatch(lat), _LON.fullmatch(lon)
    if match_lat is None or ns not in ("N", "S"):
        raise NmeaError("field", f"{kind} latitude {lat!r},{ns!r} is not ddmm.mmmm,N|S")
    if match_lon is None or ew not in ("E", "W"):
        raise NmeaError("field", f"{kind} longitude {lon!r},{ew!r} is not dddmm.mmmm,E|W")
    latitude = int(match_lat.group(1)) + float(match_lat.group(2)) / 60
    longitude = int(match_lon.group(1)) + float(match_lon.group(2)) / 60
    if latitude > 90 or longitude > 180:
        raise NmeaError("field", f"{kind} position {lat},{lon} is out of range")
    return (
        round(-latitude if ns == "S" else latitude, 7),
        round(-longitude if ew == "W" else longitude, 7),
    )


# -- state ------------------------------------------------------------------------------------
class GpsTracker:
    """What the GPS says about the gateway, from the events in order.

    ``fix``: the last RMC or GGA had a real fix. ``satellites``: from the last GGA.
    ``position``: the last fixed position (kept while the fix is lost: the gateway does not
    move), latitude/longitude rounded to 6 decimals (0.1 m), altitude (m above mean sea
    level, from GGA; an RMC fix keeps the last altitude). ``time_ms``: the last valid RMC time.
    """

    def __init__(self) -> None:
        self.fix: bool | None = None
        self.satellites: int | None = None
        self.position: dict[str, float | None] | None = None
        self.time_ms: int | None = None

    def feed(self, event: Event) -> None:
        if isinstance(event, Rmc):
            self.fix = event.valid
            if event.valid:
                altitude = self.position["altitude"] if self.position else None
                self._locate(event.latitude, event.longitude, altitude)
                self.time_ms = event.time_ms
        elif isinstance(event, Gga):
            self.fix = event.fix
            self.satellites = event.satellites
            if event.fix:
                self._locate(event.latitude, event.longitude, event.altitude)

    def _locate(self, latitude: float | None, longitude: float | None, alt: float | None) -> None:
        if latitude is None or longitude is None:
            return
        self.position = {
            "latitude": round(latitude, 6),
            "longitude": round(longitude, 6),
            "altitude": None if alt is None else round(alt, 1),
        }

    def info(self) -> dict:
        """The facts for the gateway status (``Driver.info``); keys only once known."""
        facts: dict = {}
        if self.fix is not None:
            facts["fix"] = self.fix
        if self.satellites is not None:
            facts["satellites"] = self.satellites
        if self.position is not None:
            facts["position"] = dict(self.position)
        return facts


class OffsetEstimator:
    """Gateway clock minus GPS time, from samples ``arrival estimate - GPS time`` (seconds).

    Every sample is the true offset plus a delay that is never negative (the sentence cannot
    arrive before its fix), so the smallest of the last *window* samples is the estimate
    (NTP's minimum filter); a step of the gateway clock shows within *window* samples.
    """

    def __init__(self, window: int = 8) -> None:
        self._samples: deque[float] = deque(maxlen=window)

    def add(self, sample_s: float) -> float:
        self._samples.append(sample_s)
        return min(self._samples)

    def clear(self) -> None:
        self._samples.clear()


def week_rollover_suspected(offset_s: float) -> bool:
    """True when the offset is within two days of a whole number of GPS week rollovers: then
    the GPS module reports a date 1024 weeks off, not the gateway clock being wrong."""
    turns = round(offset_s / WEEK_ROLLOVER_S)
    return turns != 0 and abs(offset_s - turns * WEEK_ROLLOVER_S) < 2 * 86400


# -- wire format ------------------------------------------------------------------------------
def checksum(body: str) -> str:
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return f"{value:02X}"


def frame(body: str) -> bytes:
    """``$<body>*hh\\r\\n``. Does not validate *body* (tests build bad sentences with it)."""
    return f"${body}*{checksum(body)}\r\n".encode("ascii")


def _nmea_time(time_ms: int) -> tuple[str, str]:
    moment = _EPOCH + timedelta(milliseconds=time_ms)
    return moment.strftime("%H%M%S") + f".{time_ms % 1000 // 10:02d}", moment.strftime("%d%m%y")


def _nmea_position(latitude: float, longitude: float) -> str:
    def dm(value: float, width: int) -> str:
        minutes = round(abs(value) * 60, 5)
        degrees, minutes = divmod(minutes, 60)
        return f"{int(degrees):0{width}d}{minutes:08.5f}"

    return (
        f"{dm(latitude, 2)},{'S' if latitude < 0 else 'N'},"
        f"{dm(longitude, 3)},{'W' if longitude < 0 else 'E'}"
    )


def format_rmc(
    time_ms: int, latitude: float, longitude: float, *, valid: bool = True, talker: str = "GP"
) -> bytes:
    """An RMC sentence (NMEA 2.3, with mode indicator); without a fix the position is empty."""
    clock, date = _nmea_time(time_ms)
    position = _nmea_position(latitude, longitude) if valid else ",,,"
    status, mode = ("A", "A") if valid else ("V", "N")
    return frame(f"{talker}RMC,{clock},{status},{position},0.0,,{date},,,{mode}")


def format_gga(
    time_ms: int,
    latitude: float,
    longitude: float,
    altitude: float,
    *,
    quality: int = 1,
    satellites: int = 9,
    hdop: float = 0.9,
    talker: str = "GP",
) -> bytes:
    """A GGA sentence; with quality 0 (no fix) position, HDOP and altitude are empty."""
    clock, _ = _nmea_time(time_ms)
    if quality == 0:
        return frame(f"{talker}GGA,{clock},,,,,0,{satellites:02d},,,M,,M,,")
    position = _nmea_position(latitude, longitude)
    return frame(
        f"{talker}GGA,{clock},{position},{quality},{satellites:02d},{hdop:.1f},"
        f"{altitude:.1f},M,0.0,M,,"
    )
