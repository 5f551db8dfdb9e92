"""The settings registers of an emulated Modbus node (the profile's ``[settings]``,
:mod:`telemetry.node_settings`), read from the profile file as data (no gateway code).

Starting values are the settings' ``default`` (the unit address: the one the emulator was
given). A write over the bus is accepted only to a settings register and only with a value the
setting allows (else the node answers with an exception, as real nodes do); a new unit
address must be free on the line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

from simulators.devices.register_maps import profile_section
from telemetry.node_settings import NodeSetting, check_value, decode, encode

_SETTINGS = TypeAdapter(dict[str, NodeSetting])


class NodeSettings:
    """The settings registers of one emulated node, by address."""

    def __init__(self, settings: dict[str, NodeSetting], unit: int) -> None:
        self.settings = settings
        self.words: dict[int, int] = {}
        for name, s in settings.items():
            raw = 0
            if s.role == "unit_address":
                raw = unit
            elif s.default is not None:
                raw = check_value(s, s.default, name)
            self.words.update(zip(s.registers, encode(s, raw), strict=True))

    def blocks(self) -> list[tuple[int, list[int]]]:
        """(start, words) of each run of adjacent settings registers."""
        out: list[tuple[int, list[int]]] = []
        for address in sorted(self.words):
            if out and out[-1][0] + len(out[-1][1]) == address:
                out[-1][1].append(self.words[address])
            else:
                out.append((address, [self.words[address]]))
        return out

    def raw(self, name: str) -> int:
        s = self.settings[name]
        return decode(s, [self.words[a] for a in s.registers])

    def unit_address(self) -> int | None:
        for name, s in self.settings.items():
            if s.role == "unit_address":
                return self.raw(name)
        return None

    def refuse(self, address: int, values: list[int], taken: set[int]) -> str | None:
        """Why a write of *values* at *address* is refused ("address", "value"), or None."""
        span = range(address, address + len(values))
        if not values or any(a not in self.words for a in span):
            return "address"
        after = {**self.words, **dict(zip(span, values, strict=True))}
        for s in self.settings.values():
            if not set(s.registers) & set(span):
                continue
            raw = decode(s, [after[a] for a in s.registers])
            try:
                if s.choices is not None:
                    allowed = raw in s.choices.values()
                else:
                    lo, hi = s.range or (0, 0)
                    slack = abs(s.scale) * 1e-6  # raw * scale in floats: -100 * 0.1
                    allowed = lo - slack <= raw * s.scale <= hi + slack
            except ValueError:
                allowed = False
            if not allowed or (s.role == "unit_address" and raw in taken):
                return "value"
        return None

    def store(self, address: int, values: list[int]) -> None:
        self.words.update(zip(range(address, address + len(values)), values, strict=True))


def load_node_settings(name_or_path: str | Path, unit: int) -> NodeSettings:
    """The settings of a profile (none when it has no ``[settings]``)."""
    settings = profile_section(name_or_path, "settings", _SETTINGS.validate_python)
    return NodeSettings(settings, unit)
