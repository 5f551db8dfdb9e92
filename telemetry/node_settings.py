"""The ``[settings]`` of a Modbus profile: a sensor node's own configuration registers.

Part of the profile format (docs/protocol.md 5.2), shared here, below the components, because
three of them read it: the gateway validates profiles (:mod:`gateway.devices.modbus.schema`),
``jagajalan firmware node get|set`` (:mod:`firmware_tools.node`) reads and writes the
registers, and the emulated sensors (:mod:`simulators.devices.modbus`) answer them.

A setting is one holding register (or two, for 32-bit types) holding an integer; the value a
technician reads and writes is ``raw * scale`` (``scale`` 0.1: a calibration offset in tenths),
limited to ``range = [min, max]``, or one of ``choices`` (``{ "9600" = 0, "19200" = 2 }``: the
value as printed on the label -> the code in the register). ``role`` marks the settings that
change how the node is reached: ``unit_address`` (it answers at the new address at once) and
``baud_rate`` (most nodes switch after a restart). Pure: no I/O.
"""

from __future__ import annotations

import math
import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.text import TextError

SettingType = Literal["int16", "uint16", "int32", "uint32"]
SettingName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Finite = Annotated[float, Field(allow_inf_nan=False)]
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2}
RAW_RANGE = {
    "int16": (-0x8000, 0x7FFF),
    "uint16": (0, 0xFFFF),
    "int32": (-0x8000_0000, 0x7FFF_FFFF),
    "uint32": (0, 0xFFFF_FFFF),
}


class NodeSetting(BaseModel):
    """One configuration register of a sensor node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=0xFFFF, description="holding register address, 0-based")
    type: SettingType = "uint16"
    word_order: Literal["big", "little"] = "big"
    scale: Finite = Field(1.0, description="value = raw * scale")
    unit: str = Field("", max_length=16)
    range: tuple[Finite, Finite] | None = Field(None, description="[min, max] of the value")
    choices: dict[str, int] | None = Field(None, description="value as written -> raw code")
    default: Finite | None = Field(None, description="the factory value (the emulator's)")
    role: Literal["unit_address", "baud_rate"] | None = None
    description: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> NodeSetting:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.address + WIDTH[self.type] > 0x10000:
            raise ValueError(f"a {self.type} at {self.address} runs past register 65535")
        if (self.range is None) == (self.choices is None):
            raise ValueError("give exactly one of range = [min, max] or choices = { ... }")
        lo, hi = RAW_RANGE[self.type]
        if self.range is not None:
            if not self.range[0] < self.range[1]:
                raise ValueError("range must be [min, max] with min < max")
            for end in self.range:
                if not lo <= round(end / self.scale) <= hi:
                    raise ValueError(f"range end {end} does not fit a {self.type}")
        if self.choices is not None:
            if not self.choices:
                raise ValueError("choices must not be empty")
            for label, code in self.choices.items():
                if not lo <= code <= hi:
                    raise ValueError(f"choice {label!r} = {code} does not fit a {self.type}")
        if self.role == "unit_address" and (
            self.range is None or self.range[0] < 1 or self.range[1] > 247 or self.scale != 1
        ):
            raise ValueError("a unit_address setting has scale 1 and a range within [1, 247]")
        if self.default is not None:
            check_value(self, self.default, "default")
        return self

    @property
    def registers(self) -> range:
        return range(self.address, self.address + WIDTH[self.type])


def settings_problems(settings: dict[str, NodeSetting]) -> list[tuple[str, Any, str]]:
    """(key, value, message) for settings that share a register or a role."""
    problems: list[tuple[str, Any, str]] = []
    owner: dict[int, str] = {}
    roles: dict[str, str] = {}
    for name, s in settings.items():
        for reg in s.registers:
            if reg in owner:
                problems.append(
                    (f"settings.{name}.address", s.address, f"register {reg} is also {owner[reg]}")
                )
                break
            owner[reg] = name
        if s.role is not None:
            if s.role in roles:
                problems.append((f"settings.{name}.role", s.role, f"already {roles[s.role]}"))
            roles[s.role] = name
    return problems


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_value(setting: NodeSetting, value: float, name: str) -> int:
    """The raw register value for *value*; :class:`TextError` when it is outside the range,
    not one of the choices, or not a multiple of the scale."""
    if not math.isfinite(value):
        raise TextError("node.err.not_number", name=name, value=value)
    if setting.choices is not None:
        code = setting.choices.get(_label(value))
        if code is None:
            shown = ", ".join(setting.choices)
            raise TextError("node.err.not_choice", name=name, value=_label(value), known=shown)
        return code
    lo, hi = setting.range or (0.0, 0.0)
    if not lo <= value <= hi:
        raise TextError(
            "node.err.out_of_range",
            name=name,
            value=_label(value),
            lo=_label(lo),
            hi=_label(hi),
            unit=setting.unit,
        )
    raw = round(value / setting.scale)
    if not math.isclose(raw * setting.scale, value, rel_tol=1e-9, abs_tol=1e-9):
        raise TextError("node.err.step", name=name, value=value, step=setting.scale)
    return raw


def parse_value(setting: NodeSetting, text: str, name: str) -> int:
    """The raw register value of *text* as a technician typed it (``9600``, ``-0.5``)."""
    try:
        value = float(text)
    except ValueError:
        raise TextError("node.err.not_number", name=name, value=text) from None
    return check_value(setting, value, name)


def encode(setting: NodeSetting, raw: int) -> list[int]:
    """The registers (in address order) that hold *raw*."""
    width = WIDTH[setting.type]
    data = raw.to_bytes(width * 2, "big", signed=setting.type.startswith("int"))
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if setting.word_order == "little" else words


def decode(setting: NodeSetting, words: list[int]) -> int:
    """The raw value of the registers (in address order)."""
    if setting.word_order == "little":
        words = words[::-1]
    fmt = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I"}[setting.type]
    return struct.unpack(fmt, b"".join(w.to_bytes(2, "big") for w in words))[0]


def shown(setting: NodeSetting, raw: int) -> str:
    """The value a technician reads: the choice's label, or ``raw * scale``."""
    if setting.choices is not None:
        for label, code in setting.choices.items():
            if code == raw:
                return label
        return f"? ({raw})"
    value = round(raw * setting.scale, 6)
    return _label(value)
