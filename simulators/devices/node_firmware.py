"""The firmware version registers of an emulated Modbus node (the profile's ``[info.firmware]``,
:mod:`telemetry.node_firmware`), read from the profile file as data and encoded here with the
emulator's own code (never the gateway's decoder), so the tests check one against the other.

The version is given as the gateway reports it (``"TH-1.4"``; the profile's ``prefix`` is
added when missing, so ``"1.4"`` works too): ``u16.u16`` and ``u8.u8`` need ``major.minor``
after the prefix, ``ascii`` at most two characters per register.
"""

from __future__ import annotations

import re
from pathlib import Path

from simulators.devices.register_maps import profile_section
from telemetry.node_firmware import FirmwareRegister, NodeInfo

#: The version an emulated node reports unless told otherwise (after the profile's prefix).
DEFAULT_FIRMWARE = "1.0"


def load_firmware_register(name_or_path: str | Path) -> FirmwareRegister | None:
    """The profile's ``[info.firmware]`` (None when it has none)."""
    info = profile_section(name_or_path, "info", NodeInfo.model_validate)
    return info.firmware


def firmware_words(spec: FirmwareRegister, version: str) -> list[int]:
    """The registers holding *version* (with the profile's prefix) in the profile's format."""
    text = version[len(spec.prefix) :] if version.startswith(spec.prefix) else version
    if spec.format == "ascii":
        data = text.encode("ascii")
        if len(data) > 2 * spec.registers:
            raise ValueError(f"firmware {version!r}: more than {2 * spec.registers} characters")
        data = data.ljust(2 * spec.registers, b"\x00")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    match = re.fullmatch(r"(\d+)\.(\d+)", text)
    limit = 0xFF if spec.format == "u8.u8" else 0xFFFF
    if match is None or max(int(match[1]), int(match[2])) > limit:
        raise ValueError(f"firmware {version!r} is not major.minor (each 0..{limit})")
    major, minor = int(match[1]), int(match[2])
    if spec.format == "u8.u8":
        return [major << 8 | minor]
    return [major, minor]


def node_firmware_block(
    name_or_path: str | Path, version: str | None
) -> tuple[int, list[int]] | None:
    """(address, words) the node answers with for its firmware version, or None: the profile
    has no ``[info.firmware]`` or *version* is None (a node without those registers, which
    answers a read of them with an exception)."""
    spec = load_firmware_register(name_or_path)
    if spec is None or version is None:
        return None
    return spec.address, firmware_words(spec, version)
