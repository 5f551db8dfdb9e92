"""Modbus holding/input register words of a sensor's values (docs/protocol.md 5.2). Pure.

A register is a 16-bit word. ``int16``/``uint16`` take one register, ``int32``/``uint32``/
``float32`` two: the 32-bit value (two's complement for the signed types, IEEE 754 single
precision for ``float32``) split into its high and low word, high word at the lower address
with ``word_order = "big"``, low word first with ``"little"``. A physical value is stored as
``raw = (value - offset) / scale``, rounded to the nearest integer and clamped to the type's
range (``float32``: rounded to single precision); the gateway then publishes
``round(raw * scale + offset, 6)``, which :meth:`RegisterField.carried` gives. A counter
(``kind = "counter"``) stores its raw count, wrapped at its rollover.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Type = Literal["int16", "uint16", "int32", "uint32", "float32"]
#: Bits of each type.
BITS: dict[str, int] = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "float32": 32}


def int_range(type_: str) -> tuple[int, int]:
    """Smallest and largest raw value of an integer type."""
    bits = BITS[type_]
    if type_.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True)
class RegisterField:
    """What the emulator needs of a profile field."""

    name: str
    address: int
    type: Type = "uint16"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0
    counter: bool = False
    rollover: int | None = None  # counters: wraps to 0 here (default 2**bits)
    range: tuple[float, float] | None = None
    publish: bool = True

    @property
    def width(self) -> int:
        return BITS[self.type] // 16

    @property
    def addresses(self) -> list[int]:
        return list(range(self.address, self.address + self.width))

    @property
    def modulus(self) -> int:
        return self.rollover or 1 << BITS[self.type]

    def raw(self, value: float) -> float:
        """The raw register value nearest the physical *value* (counters: the count)."""
        if self.counter:
            return int(value) % self.modulus
        raw = (value - self.offset) / self.scale
        if self.type == "float32":
            return single(raw)
        lo, hi = int_range(self.type)
        return min(hi, max(lo, round(raw)))

    def carried(self, raw: float) -> float:
        """The value the gateway reads from *raw*: ``round(raw * scale + offset, 6)``."""
        return round(raw * self.scale + self.offset, 6)


def single(value: float) -> float:
    """*value* rounded to IEEE 754 single precision (largest finite float32 beyond it)."""
    try:
        return struct.unpack(">f", struct.pack(">f", value))[0]
    except OverflowError:
        return math.copysign(3.4028234663852886e38, value)


def words(type_: str, raw: float, word_order: str = "big") -> list[int]:
    """The registers holding *raw*, in address order."""
    if type_ == "float32":
        (bits,) = struct.unpack(">I", struct.pack(">f", raw))
    else:
        lo, hi = int_range(type_)
        if raw != int(raw) or not lo <= raw <= hi:
            raise ValueError(f"{raw!r} is not a {type_} (range {lo}..{hi})")
        bits = int(raw) & ((1 << BITS[type_]) - 1)  # two's complement
    if BITS[type_] == 16:
        return [bits]
    high, low = bits >> 16, bits & 0xFFFF
    return [low, high] if word_order == "little" else [high, low]


def spans(fields: Sequence[RegisterField], max_gap: int, extra: Sequence[int] = ()) -> list:
    """Address ranges ``(start, count)`` a device answers: the fields' registers, neighbours
    at most *max_gap* unused registers apart joined (the device's map is contiguous there, as
    the profile's ``max_gap`` promises), and the single *extra* addresses (a model register)."""
    joined: list[tuple[int, int]] = []
    for a in sorted({a for f in fields for a in f.addresses}):
        if joined and a - (joined[-1][0] + joined[-1][1]) <= max_gap:
            joined[-1] = (joined[-1][0], a - joined[-1][0] + 1)
        else:
            joined.append((a, 1))
    answered = {a for start, n in joined for a in range(start, start + n)} | set(extra)
    out: list[tuple[int, int]] = []
    for a in sorted(answered):
        if out and out[-1][0] + out[-1][1] == a:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((a, 1))
    return out
