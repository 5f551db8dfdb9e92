"""Vaisala WXT5xx-style ASCII weather sentences (docs/protocol.md 5.3). Pure: no I/O, no clock.

A data message is ``<address><R|r><n>,<key>=<value><unit>,...[crc]``, e.g.
``0R0,Dm=283D,Sm=1.0M,Ta=23.6C,Ua=54.2P,Pa=1006.6H,Rc=0.00M,Ri=0.0M``. A lower-case ``r``
means the station appended a three-character CRC (it does so when polled with ``0r0``).

- :func:`crc16`, :func:`encode_crc`, :func:`format_query`, :func:`format_sentence`: the wire
  format, shared by the gateway driver and the simulator. The CRC is the one of the WXT530
  user guide (M211840EN, appendix "CRC-16 computation"): CRC-16 with the reflected polynomial
  0xA001, initial value 0 (the CRC-16/ARC variant, *not* XMODEM), over every character from
  the address up to the CRC; encoded as ``0x40 | crc >> 12``, ``0x40 | (crc >> 6) & 0x3F``,
  ``0x40 | crc & 0x3F``. Checked against the manual's examples (``0r0`` -> ``Kld``).
- :func:`parse_sentence`: one line -> :class:`Sentence` (values in the units of table 2.2),
  or :class:`WeatherError` with a machine-readable ``reason``.
- :class:`RainCounter`: the station's rain accumulator -> rain in the interval.
- :class:`WeatherDecoder`: both, plus the address check: line -> fields of a reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Longest sentence accepted (a composite message with every parameter is about 250 bytes).
MAX_LINE = 512
MEASUREMENT = "weather"

_PREFIX = re.compile(r"([0-9A-Za-z])([Rr])([0-9])")
_KEY = re.compile(r"[A-Z][a-z0-9]")
_VALUE = re.compile(r"([+-]?[0-9]{1,7}(?:\.[0-9]{1,4})?|#)([A-Za-z#])")


class WeatherError(ValueError):
    """A line that is not a usable sentence. ``reason`` is one of:

    ``format`` (framing, length, bytes, syntax, truncation), ``crc`` (CRC missing where one is
    required, or wrong), ``address`` (a sentence from another station address).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


# -- units ------------------------------------------------------------------------------------
def _same(value: float) -> float:
    return value


@dataclass(frozen=True)
class Quantity:
    """A key of the station: the value's name here, its units, its plausible range."""

    name: str
    units: Mapping[str, Callable[[float], float]]  # unit letter -> to the unit of table 2.2
    low: float
    high: float


#: 1 mmHg in hPa: 13.5951 g/cm3 x 9.80665 m/s2 x 1 mm, exactly (the conventional millimetre of
#: mercury); 1 inHg = 25.4 mmHg. Rounder factors (1.333224, 33.863886) move the 4th decimal.
MMHG_HPA = 1.33322387415
INHG_HPA = 33.86388640341

#: Keys the gateway publishes. Other keys (Dn/Dx/Sn/Sx min and max wind, Tp internal
#: temperature, Rd/Hd durations, Rp/Hp peaks, Hc/Hi hail, Th/Vh/Vs/Vr/Id supervisor data) are
#: accepted and ignored. ``rain_total`` is the accumulator; :class:`RainCounter` turns it into
#: ``rain``. Ranges are generous sensor limits (WXT536 datasheet ranges, widened) that catch a
#: wrong unit setting or a corrupt value, not weather extremes.
QUANTITIES: dict[str, Quantity] = {
    "Dm": Quantity("wind_direction", {"D": _same}, 0.0, 360.0),
    "Sm": Quantity(
        "wind_speed",
        {
            "M": _same,  # m/s
            "K": lambda v: v / 3.6,  # km/h
            "S": lambda v: v * 0.44704,  # mph
            "N": lambda v: v * 1852.0 / 3600.0,  # knots
        },
        0.0,
        90.0,
    ),
    "Ta": Quantity("temperature", {"C": _same, "F": lambda v: (v - 32.0) * 5.0 / 9.0}, -60, 70),
    "Ua": Quantity("humidity", {"P": _same}, 0.0, 100.0),
    "Pa": Quantity(
        "pressure",
        {
            "H": _same,  # hPa
            "P": lambda v: v / 100.0,  # Pa
            "B": lambda v: v * 1000.0,  # bar
            "M": lambda v: v * MMHG_HPA,  # mmHg
            "I": lambda v: v * INHG_HPA,  # inHg
        },
        500.0,
        1200.0,
    ),
    "Rc": Quantity("rain_total", {"M": _same, "I": lambda v: v * 25.4}, 0.0, 1e7),
    "Ri": Quantity("rain_intensity", {"M": _same, "I": lambda v: v * 25.4}, 0.0, 1000.0),
}
#: Decimals kept after a unit conversion.
DECIMALS = 4


# -- wire format ------------------------------------------------------------------------------
def crc16(data: bytes) -> int:
    """CRC-16 of the WXT manual: reflected polynomial 0xA001, initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def encode_crc(crc: int) -> bytes:
    """The three ASCII characters (0x40-0x7F) that carry a 16-bit CRC."""
    return bytes((0x40 | crc >> 12, 0x40 | (crc >> 6) & 0x3F, 0x40 | crc & 0x3F))


def format_query(address: str = "0", message: int = 0, *, crc: bool = False) -> bytes:
    """The poll command: ``0R0\\r\\n``, or ``0r0Kld\\r\\n`` to get an answer with a CRC."""
    if crc:
        body = f"{address}r{message}".encode("ascii")
        return body + encode_crc(crc16(body)) + b"\r\n"
    return f"{address}R{message}\r\n".encode("ascii")


def format_sentence(
    address: str, message: int, items: list[tuple[str, str]], *, crc: bool = False
) -> bytes:
    """``<address>R<message>,k=v,...\\r\\n`` with *items* as (key, value-with-unit) pairs,
    written as given (tests build bad sentences with it); with *crc* the CRC is appended."""
    letter = "r" if crc else "R"
    body = ",".join([f"{address}{letter}{message}", *(f"{k}={v}" for k, v in items)])
    raw = body.encode("ascii")
    return raw + (encode_crc(crc16(raw)) if crc else b"") + b"\r\n"


# -- parsing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sentence:
    address: str
    message: str  # "R0" (composite), "R1" (wind), "R2" (PTU), "R3" (rain), ...
    values: dict[str, float]  # Quantity.name -> value in the unit of table 2.2
    missing: tuple[str, ...] = ()  # keys the station marked invalid with '#'
    problems: dict[str, str] = field(default_factory=dict)  # key -> why its value was skipped
    crc: bool = False  # the sentence carried a CRC (and it matched)


def _show(data: bytes, limit: int = 60) -> str:
    text = repr(data[:limit])[2:-1]
    return text + "..." if len(data) > limit else text


def parse_sentence(line: bytes, *, require_crc: bool = False) -> Sentence:
    """Parse one line (with or without ``\\r\\n``). Raises :class:`WeatherError` only.

    Checks, in order: length, prefix, CRC (verified whenever present; with *require_crc* a
    sentence without one is refused), printable ASCII, ``key=value`` syntax. A published key
    whose value has no unit letter means a cut-off sentence and refuses the whole line. A
    value marked ``#`` is listed in ``missing``; an unknown unit letter or an implausible value
    is listed in ``problems``; either way only that field is skipped.
    """
    if len(line) > MAX_LINE:
        raise WeatherError("format", f"line is longer than {MAX_LINE} bytes: {_show(line)}")
    line = line.strip(b" \t\r\n")
    if not line:
        raise WeatherError("format", "line is empty")
    prefix = _PREFIX.match(line[:3].decode("latin-1"))
    if prefix is None:
        raise WeatherError(
            "format", f"line does not start with an address and R0-R9 (e.g. 0R0): {_show(line)}"
        )
    has_crc = prefix.group(2) == "r"
    if has_crc:
        line = _check_crc(line)
    elif require_crc:
        raise WeatherError(
            "crc", f"sentence has no CRC (expected '{line[:1].decode()}r...'): {_show(line)}"
        )
    bad = next((b for b in line if not 0x20 <= b <= 0x7E), None)
    if bad is not None:
        raise WeatherError("format", f"byte 0x{bad:02x} is not printable ASCII: {_show(line)}")
    parts = line.decode("ascii").split(",")
    if len(parts[0]) != 3:
        raise WeatherError("format", f"{parts[0]!r} is not an address and message (e.g. 0R0)")
    values: dict[str, float] = {}
    missing: list[str] = []
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for part in parts[1:]:
        key, sep, text = part.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise WeatherError("format", f"field {part!r} is not key=value (truncated sentence?)")
        if key in seen:
            raise WeatherError("format", f"key {key} appears twice")
        seen.add(key)
        quantity = QUANTITIES.get(key)
        if quantity is None:
            continue  # a parameter the gateway does not publish
        match = _VALUE.fullmatch(text)
        if match is None:
            raise WeatherError(
                "format", f"{key}={text!r} is not a number and a unit letter (truncated sentence?)"
            )
        number, unit = match.groups()
        if number == "#" or unit == "#":
            missing.append(key)
            continue
        convert = quantity.units.get(unit)
        if convert is None:
            known = ", ".join(quantity.units)
            problems[key] = f"{key}={text}: unit {unit!r} is not one of {known}"
            continue
        value = round(convert(float(number)), DECIMALS) + 0.0  # + 0.0: no -0.0
        if not quantity.low <= value <= quantity.high:
            problems[key] = (
                f"{key}={text}: {quantity.name} {value:g} is outside {quantity.low:g}"
                f"..{quantity.high:g}"
            )
            continue
        values[quantity.name] = value
    return Sentence(
        address=prefix.group(1),
        message="R" + prefix.group(3),
        values=values,
        missing=tuple(missing),
        problems=problems,
        crc=has_crc,
    )


def _check_crc(line: bytes) -> bytes:
    """Return *line* without its CRC characters, or raise ``crc``."""
    body, given = line[:-3], line[-3:]
    if len(line) < 6 or any(not 0x40 <= b <= 0x7F for b in given):
        raise WeatherError("crc", f"no valid CRC at the end (truncated sentence?): {_show(line)}")
    expected = encode_crc(crc16(body))
    if given != expected:
        raise WeatherError(
            "crc",
            f"CRC {given.decode('latin-1')!r} does not match {expected.decode()!r}: {_show(line)}",
        )
    return body


# -- rain -------------------------------------------------------------------------------------
RainMode = Literal["total", "interval"]


class RainCounter:
    """Rain in the interval since the previous sentence, from the station's accumulator Rc.

    ``mode="total"`` (the WXT default): Rc counts since the last reset. The first value gives no
    rain (there is no previous one). When Rc goes down, the station's accumulator was reset
    (power cycle, reset command) and the rain is counted from 0 again: the new value is the rain
    since the reset. With *rollover* (mm) set, a drop from the upper half of that range is read
    as the counter wrapping: ``rollover - previous + new``. ``mode="interval"``: the station
    resets Rc after each message (WXT automatic reset), so Rc already is the interval's rain.
    """

    def __init__(self, mode: RainMode = "total", rollover: float | None = None) -> None:
        if rollover is not None and rollover <= 0:
            raise ValueError("rollover must be > 0")
        self.mode = mode
        self.rollover = rollover
        self.previous: float | None = None
        self.resets = 0
        self.rollovers = 0

    def feed(self, total_mm: float) -> float | None:
        """Take the accumulator value; return the rain (mm) since the previous one, or None."""
        if self.mode == "interval":
            return total_mm
        previous, self.previous = self.previous, total_mm
        if previous is None:
            return None
        if total_mm >= previous:
            delta = total_mm - previous
        elif self.rollover is not None and previous >= self.rollover / 2:
            self.rollovers += 1
            delta = max(0.0, self.rollover - previous) + total_mm
        else:
            self.resets += 1
            delta = total_mm
        return round(delta, DECIMALS) + 0.0


# -- decoding ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoded:
    fields: dict[str, float]  # ready for a ``weather`` reading (table 2.2 names)
    sentence: Sentence


class WeatherDecoder:
    """One station: line -> :class:`Decoded`. Keeps the rain accumulator between lines."""

    def __init__(
        self,
        address: str = "0",
        *,
        require_crc: bool = False,
        rain_mode: RainMode = "total",
        rain_rollover: float | None = None,
    ) -> None:
        self.address = address
        self.require_crc = require_crc
        self.rain = RainCounter(rain_mode, rain_rollover)

    def decode(self, line: bytes) -> Decoded:
        sentence = parse_sentence(line, require_crc=self.require_crc)
        if sentence.address != self.address:
            raise WeatherError(
                "address",
                f"sentence from station address {sentence.address!r}, expected {self.address!r}",
            )
        fields = {k: v for k, v in sentence.values.items() if k != "rain_total"}
        total = sentence.values.get("rain_total")
        if total is not None:
            rain = self.rain.feed(total)
            if rain is not None and math.isfinite(rain):
                fields["rain"] = rain
        return Decoded(fields=fields, sentence=sentence)
