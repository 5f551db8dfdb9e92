"""Vaisala WXT5xx-style data messages (docs/protocol.md 5.3). Pure: no I/O.

A data message is ``<a>R<n>,<key>=<value><unit>,...\\r\\n``; answering a query whose command
letter was lower case (``0r0Kld``), the station writes ``r`` and puts a three-character CRC
before CR LF. The CRC is the WXT530 user guide's (M211840EN, "CRC-16 computation"): start at 0;
for each character from the address up to the CRC, XOR it in, then eight times shift right,
XOR-ing 0xA001 whenever the bit shifted out was 1. It is written as three characters
``0x40 | crc >> 12``, ``0x40 | (crc >> 6) & 0x3F``, ``0x40 | crc & 0x3F``. Checked against the
query CRCs printed in the guide (``0r0Kld``, ``0r1Goe``, ...).

Units: the station writes each quantity in the unit letter it is set to; :data:`UNITS` holds,
per letter, how a value in the protocol's unit (table 2.2) becomes the station's number and
back, from the units' definitions (1 mph = 0.44704 m/s, 1 kn = 1852 m/h, 1 in = 25.4 mm,
1 mmHg = 13.5951 g/cm3 x 9.80665 m/s2 x 1 mm = 133.322387415 Pa, 1 inHg = 25.4 mmHg), and how
many decimals the station writes. :func:`value_of` is the number a written value stands for,
in the protocol's unit with the 4 decimals the protocol keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

MMHG_HPA = 1.33322387415  # 1 mmHg in hPa: 13.5951 g/cm3 x 9.80665 m/s2 x 1 mm, exactly
INHG_HPA = 33.86388640341  # 1 inHg in hPa: 25.4 x MMHG_HPA, exactly
DECIMALS = 4  # kept by the protocol after a unit conversion


def crc16(data: bytes) -> int:
    crc = 0
    for char in data:
        crc ^= char
        for _ in range(8):
            low_bit = crc & 1
            crc >>= 1
            if low_bit:
                crc ^= 0xA001
    return crc


def crc_text(data: bytes) -> bytes:
    """The three CRC characters of *data*."""
    crc = crc16(data)
    return bytes([0x40 | crc >> 12, 0x40 | (crc >> 6) & 0x3F, 0x40 | crc & 0x3F])


def message(address: str, number: int, items: Iterable[tuple[str, str]], *, crc: bool) -> bytes:
    """``<a>R<n>,k=v,...\\r\\n`` (``r`` and the CRC with *crc*); items are (key, value+unit)."""
    head = f"{address}{'r' if crc else 'R'}{number}"
    body = ",".join([head, *(f"{key}={text}" for key, text in items)]).encode("ascii")
    return body + (crc_text(body) if crc else b"") + b"\r\n"


def chksum_hint(address: str, wanted: bytes) -> bytes:
    """The station's answer to a query with a wrong CRC: ``<a>tX,Use chksum <wanted><crc>``."""
    body = f"{address}tX,Use chksum ".encode("ascii") + wanted
    return body + crc_text(body) + b"\r\n"


@dataclass(frozen=True)
class Unit:
    """A unit letter: protocol unit -> station number (:attr:`out`) and back (:attr:`back`)."""

    out: Callable[[float], float]
    back: Callable[[float], float]
    decimals: int


def _same(v: float) -> float:
    return v


#: Unit letters per group, as the station writes them.
UNITS: dict[str, dict[str, Unit]] = {
    "wind": {  # protocol: m/s
        "M": Unit(_same, _same, 1),
        "K": Unit(lambda v: v * 3.6, lambda x: x / 3.6, 1),
        "S": Unit(lambda v: v / 0.44704, lambda x: x * 0.44704, 1),
        "N": Unit(lambda v: v * 3600 / 1852, lambda x: x * 1852 / 3600, 1),
    },
    "temperature": {  # protocol: degC
        "C": Unit(_same, _same, 1),
        "F": Unit(lambda c: c * 1.8 + 32, lambda f: (f - 32) / 1.8, 1),
    },
    "pressure": {  # protocol: hPa
        "H": Unit(_same, _same, 1),
        "P": Unit(lambda v: v * 100, lambda x: x / 100, 0),
        "B": Unit(lambda v: v / 1000, lambda x: x * 1000, 4),
        "M": Unit(lambda v: v / MMHG_HPA, lambda x: x * MMHG_HPA, 2),
        "I": Unit(lambda v: v / INHG_HPA, lambda x: x * INHG_HPA, 3),
    },
    "rain": {  # protocol: mm (Rc) and mm/h (Ri)
        "M": Unit(_same, _same, 2),
        "I": Unit(lambda v: v / 25.4, lambda x: x * 25.4, 3),
    },
}
DEFAULT_UNITS = {"wind": "M", "temperature": "C", "pressure": "H", "rain": "M"}

#: Published keys: key -> (protocol field name, unit group or the fixed unit letter).
KEYS: dict[str, tuple[str, str]] = {
    "Dm": ("wind_direction", "D"),
    "Sm": ("wind_speed", "wind"),
    "Ta": ("temperature", "temperature"),
    "Ua": ("humidity", "P"),
    "Pa": ("pressure", "pressure"),
    "Rc": ("rain_total", "rain"),
    "Ri": ("rain_intensity", "rain"),
}
#: The gateway's plausible ranges (docs/protocol.md 5.3), in the protocol's units.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "temperature": (-60.0, 70.0),
    "humidity": (0.0, 100.0),
    "pressure": (500.0, 1200.0),
    "wind_speed": (0.0, 90.0),
    "wind_direction": (0.0, 360.0),
    "rain_intensity": (0.0, 1000.0),
}


def written(group: str, letter: str, value: float, fewer_decimals: int = 0) -> str:
    """*value* (protocol unit) as the station writes it in unit *letter*, letter included."""
    unit = UNITS[group][letter]
    return f"{unit.out(value):.{unit.decimals - fewer_decimals}f}{letter}"


def value_of(key: str, text: str) -> float | None:
    """What the written value *text* (number and unit letter) of *key* stands for, in the
    protocol's unit, 4 decimals; None for a value marked invalid (``#``) or an unknown key."""
    if key not in KEYS or "#" in text:
        return None
    _, group = KEYS[key]
    number, letter = float(text[:-1]), text[-1]
    if group == letter:  # a fixed unit (D, P)
        return round(number, DECIMALS) + 0.0
    return round(UNITS[group][letter].back(number), DECIMALS) + 0.0
