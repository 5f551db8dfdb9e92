"""Register-map profiles for Modbus sensors (docs/protocol.md 5.2): devices are data.

A profile TOML in ``gateway/profiles/`` describes one sensor model. It is loaded once into a
validated :class:`Profile` and compiled once by :func:`compile_profile` into a
:class:`CompiledProfile`: the planned read blocks and one pure decoder function per field.
Nothing here does I/O except :func:`load_profile` reading the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from jagajalan.config import ConfigError, load_toml
from telemetry.units import FIELDS

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
MAX_BLOCK = 125  # registers in one read request

RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32"]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

#: Registers (16-bit words) each type occupies.
WIDTH: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
#: Inclusive raw range of the integer types.
RAW_RANGE: dict[str, tuple[int, int]] = {
    "int16": (-0x8000, 0x7FFF),
    "uint16": (0, 0xFFFF),
    "int32": (-0x8000_0000, 0x7FFF_FFFF),
    "uint32": (0, 0xFFFF_FFFF),
}
FUNCTION_CODES = {"holding": 3, "input": 4}


class ProfileDecodeError(ValueError):
    """Registers that cannot be decoded (a register missing or out of range)."""


class ProfileField(BaseModel):
    """One value of the sensor: where it lives and how raw registers become a number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FieldName = Field(description="field name in the reading (protocol table 2.2)")
    type: RegisterType = "uint16"
    address: int = Field(ge=0, le=0xFFFF, description="register address, 0-based")
    word_order: Literal["big", "little"] = Field(
        "big", description="32-bit types: 'big' = high word first, 'little' = low word first"
    )
    scale: float = Field(1.0, allow_inf_nan=False, description="value = raw * scale + offset")
    offset: float = Field(0.0, allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=16, description="unit of the decoded value")

    @field_validator("address")
    @classmethod
    def _fits(cls, value: int, info: ValidationInfo) -> int:
        kind = info.data.get("type")
        if kind is not None and value + WIDTH[kind] > 0x10000:
            raise ValueError(f"a {kind} at {value} runs past register 65535")
        return value

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale must not be 0 (every value would decode to the offset)")
        return value

    @field_validator("unit")
    @classmethod
    def _contract_unit(cls, value: str, info: ValidationInfo) -> str:
        spec = FIELDS.get(info.data.get("name", ""))
        if spec is not None and value != spec.unit:
            raise ValueError(
                f"field {info.data['name']!r} is in {spec.unit!r} by the protocol "
                "(table 2.2): convert with scale and offset"
            )
        return value

    @property
    def registers(self) -> range:
        return range(self.address, self.address + WIDTH[self.type])


class Profile(BaseModel):
    """A whole register map: one sensor model. See :func:`profile_problems` for the checks
    across fields (names and registers used twice)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="model name")
    description: str = ""
    measurement: FieldName = Field(description="measurement of the readings (table 2.1)")
    function: Literal["holding", "input"] = Field(
        "holding", description="'holding' (FC 3) or 'input' (FC 4) registers"
    )
    max_gap: int = Field(
        10,
        ge=0,
        le=MAX_BLOCK,
        description="unused registers allowed inside one read block (0: only adjacent ones "
        "are merged, for devices that refuse reads of undefined registers)",
    )
    fields: list[ProfileField] = Field(min_length=1, max_length=64)


def profile_problems(profile: Profile) -> list[tuple[str, Any, str]]:
    """(key, value, message) for every field name or register used twice."""
    problems: list[tuple[str, Any, str]] = []
    names: dict[str, int] = {}
    owner: dict[int, int] = {}
    for i, f in enumerate(profile.fields):
        if f.name in names:
            problems.append(
                (f"fields[{i}].name", f.name, f"already used by fields[{names[f.name]}]")
            )
        names.setdefault(f.name, i)
        for reg in f.registers:
            if reg in owner:
                other = profile.fields[owner[reg]]
                problems.append(
                    (
                        f"fields[{i}].address",
                        f.address,
                        f"register {reg} is also read by fields[{owner[reg]}] "
                        f"({other.name!r}, {other.type} at {other.address})",
                    )
                )
                break
            owner[reg] = i
    return problems


def find_profile(name_or_path: str | Path) -> Path:
    """A bare name (``pm-th-generic``) is looked up in gateway/profiles/; anything with a
    slash or a ``.toml`` suffix is a path."""
    text = str(name_or_path)
    if "/" in text or text.endswith(".toml"):
        return Path(text)
    path = PROFILE_DIR / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))) or "none"
        raise ConfigError(path, [("profile", text, f"no such profile (known: {known})")])
    return path


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile; :class:`ConfigError` names the file, key and bad value."""
    path = find_profile(name_or_path)
    profile = load_toml(Profile, path)
    if problems := profile_problems(profile):
        raise ConfigError(path, problems)
    return profile


# -- compilation -------------------------------------------------------------------------------


def plan_blocks(
    spans: Sequence[tuple[int, int]], max_gap: int = 10, max_count: int = MAX_BLOCK
) -> list[tuple[int, int]]:
    """Merge register spans ``(start, count)`` into read blocks ``(start, count)``.

    Spans at most *max_gap* unused registers apart share a block; no block is longer than
    *max_count* registers and no span is split across two blocks.
    """
    blocks: list[tuple[int, int]] = []
    for start, count in sorted(spans):
        if count > max_count:
            raise ValueError(f"span at {start} has {count} registers, more than {max_count}")
        if blocks:
            b_start, b_count = blocks[-1]
            b_end = b_start + b_count
            end = max(b_end, start + count)
            if start - b_end <= max_gap and end - b_start <= max_count:
                blocks[-1] = (b_start, end - b_start)
                continue
        blocks.append((start, count))
    return blocks


def encode_raw(field: ProfileField, raw: float) -> list[int]:
    """The registers (in address order) that hold *raw* for *field*; the inverse of the
    field's decoder. Integers are checked against the type's range."""
    if field.type == "float32":
        data = struct.pack(">f", raw)
    else:
        lo, hi = RAW_RANGE[field.type]
        if raw != int(raw) or not lo <= raw <= hi:
            raise ValueError(f"{raw!r} is not a {field.type} (range {lo}..{hi})")
        data = int(raw).to_bytes(WIDTH[field.type] * 2, "big", signed=field.type[0] == "i")
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if field.word_order == "little":
        words.reverse()
    return words


def raw_from_value(field: ProfileField, value: float) -> float:
    """The raw register value closest to the physical *value*, clamped to the type."""
    raw = (value - field.offset) / field.scale
    if field.type == "float32":
        return struct.unpack(">f", struct.pack(">f", raw))[0]
    lo, hi = RAW_RANGE[field.type]
    return min(max(round(raw), lo), hi)


Decoder = Callable[[Mapping[int, int]], float]


def _field_decoder(field: ProfileField) -> Decoder:
    """One pure function: registers by address -> the field's decoded value."""
    addresses = tuple(field.registers)
    if field.word_order == "little":
        addresses = addresses[::-1]  # read the high word first
    kind, scale, offset = field.type, field.scale, field.offset
    if kind == "float32":
        fmt = ">f"
    else:
        fmt = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I"}[kind]

    def decode(registers: Mapping[int, int]) -> float:
        words = []
        for addr in addresses:
            word = registers.get(addr)
            if word is None:
                raise ProfileDecodeError(f"field {field.name!r}: register {addr} not read")
            if not 0 <= word <= 0xFFFF:
                raise ProfileDecodeError(f"field {field.name!r}: register {addr} = {word}")
            words.append(word)
        (raw,) = struct.unpack(fmt, b"".join(w.to_bytes(2, "big") for w in words))
        return round(raw * scale + offset, 6)

    return decode


@dataclass(frozen=True)
class CompiledProfile:
    """A profile ready to poll: its read plan and pure decoders."""

    profile: Profile
    function_code: int
    blocks: tuple[tuple[int, int], ...]
    decoders: tuple[tuple[str, Decoder], ...]

    @property
    def measurement(self) -> str:
        return self.profile.measurement

    def decode(self, registers: Mapping[int, int]) -> dict[str, float]:
        """Decoded values by field name: ``round(raw * scale + offset, 6)``. The result may hold
        NaN or infinity for float32 registers; callers that publish must drop those."""
        return {name: decoder(registers) for name, decoder in self.decoders}

    def registers_of(self, block_values: Sequence[Sequence[int]]) -> dict[int, int]:
        """Registers by address, from the values read for each planned block in order."""
        if len(block_values) != len(self.blocks):
            raise ProfileDecodeError(f"{len(block_values)} blocks read, {len(self.blocks)} planned")
        registers: dict[int, int] = {}
        for (start, count), values in zip(self.blocks, block_values, strict=True):
            if len(values) != count:
                raise ProfileDecodeError(f"block at {start}: {len(values)} of {count} registers")
            registers.update(zip(range(start, start + count), values, strict=True))
        return registers


def compile_profile(profile: Profile) -> CompiledProfile:
    if problems := profile_problems(profile):
        raise ValueError("; ".join(f"{key} = {value!r}: {msg}" for key, value, msg in problems))
    spans = [(f.address, WIDTH[f.type]) for f in profile.fields]
    return CompiledProfile(
        profile=profile,
        function_code=FUNCTION_CODES[profile.function],
        blocks=tuple(plan_blocks(spans, profile.max_gap)),
        decoders=tuple((f.name, _field_decoder(f)) for f in profile.fields),
    )
