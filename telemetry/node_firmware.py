"""The ``[info.firmware]`` of a Modbus profile: where a sensor node keeps its firmware version.

Part of the profile format (docs/protocol.md 5.2), shared here, below the components, like
:mod:`telemetry.node_settings`: the gateway validates the profile and decodes the registers
(:mod:`gateway.devices.modbus.driver` reports the version in its device info, so it reaches
the status's ``firmware``), the emulated sensors answer the registers with their own encoder.

Formats (``count`` registers read from ``address``):

- ``u16.u16``: two registers, major then minor -> ``"1.4"`` (``count`` 2).
- ``u8.u8``: one register, major in the high byte, minor in the low byte -> ``"1.4"``
  (``count`` 1).
- ``ascii``: two characters per register, high byte first, 1..16 registers; trailing NUL
  bytes and spaces are dropped -> ``"TH-1.04"``.

``prefix`` (optional) is put in front of the decoded text (``"WL-"`` and ``u16.u16`` registers
2, 8 -> ``"WL-2.8"``). Registers that hold no version (all 0x0000 or all 0xFFFF: erased or not
implemented, or ASCII that is not printable) are an :class:`FirmwareFormatError`; the driver
then reports the version as unknown. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FirmwareFormat = Literal["u16.u16", "u8.u8", "ascii"]
#: Registers each format reads (``ascii``: 1..MAX_ASCII_REGISTERS, the profile's ``count``).
FORMAT_COUNT: dict[str, int | None] = {"u16.u16": 2, "u8.u8": 1, "ascii": None}
MAX_ASCII_REGISTERS = 16
#: Longest version text (prefix included), as stored (telemetry.mapping.MAX_VERSION_TEXT).
MAX_FIRMWARE_TEXT = 64


class FirmwareFormatError(ValueError):
    """Registers that do not hold a firmware version in the profile's format."""


class FirmwareRegister(BaseModel):
    """Where and how a node keeps its firmware version (``[info.firmware]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=0xFFFF, description="first register, 0-based")
    format: FirmwareFormat = Field(description="'u16.u16', 'u8.u8' or 'ascii'")
    count: int | None = Field(
        None, ge=1, le=MAX_ASCII_REGISTERS, description="registers (ascii only; others fixed)"
    )
    function: Literal["holding", "input"] | None = Field(None, description="default: profile's")
    prefix: str = Field("", max_length=16, pattern=r"^[ -~]*$")

    @model_validator(mode="after")
    def _consistent(self) -> FirmwareRegister:
        fixed = FORMAT_COUNT[self.format]
        if fixed is None and self.count is None:
            raise ValueError("format 'ascii' needs count (registers, 2 characters each)")
        if fixed is not None and self.count not in (None, fixed):
            raise ValueError(f"format {self.format!r} reads {fixed} register(s), not {self.count}")
        if self.address + self.registers > 0x10000:
            raise ValueError(f"{self.registers} register(s) at {self.address} run past 65535")
        return self

    @property
    def registers(self) -> int:
        """How many registers to read."""
        return FORMAT_COUNT[self.format] or self.count or 0


class NodeInfo(BaseModel):
    """The profile's ``[info]``: facts about the node read once, not every poll."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    firmware: FirmwareRegister | None = None


def decode_firmware(spec: FirmwareRegister, words: Sequence[int]) -> str:
    """The version text held by *words* (the registers read at ``spec.address``), or a
    :class:`FirmwareFormatError` saying why they hold none."""
    if len(words) != spec.registers:
        raise FirmwareFormatError(f"{len(words)} register(s) read, {spec.registers} expected")
    if any(not isinstance(w, int) or not 0 <= w <= 0xFFFF for w in words):
        raise FirmwareFormatError(f"not 16-bit registers: {list(words)!r}")
    if all(w == 0 for w in words) or all(w == 0xFFFF for w in words):
        raise FirmwareFormatError(f"no version (registers {_hex(words)})")
    if spec.format == "u16.u16":
        text = f"{words[0]}.{words[1]}"
    elif spec.format == "u8.u8":
        text = f"{words[0] >> 8}.{words[0] & 0xFF}"
    else:
        data = b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\x00 ")
        if not data or any(not 0x20 <= b <= 0x7E for b in data):
            raise FirmwareFormatError(f"not printable ASCII (registers {_hex(words)})")
        text = data.decode("ascii")
    return (spec.prefix + text)[:MAX_FIRMWARE_TEXT]


def _hex(words: Sequence[int]) -> str:
    return " ".join(f"0x{w:04x}" for w in words)
