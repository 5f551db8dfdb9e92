"""Register-map profiles for Modbus sensors (docs/protocol.md 5.2): devices are data.

A profile TOML in ``gateway/devices/modbus/profiles/`` describes one sensor model. It is loaded
once into a validated :class:`Profile` and compiled once by :func:`compile_profile` into a
:class:`CompiledProfile`: the planned read blocks and one pure decoder function per field.
Nothing here does I/O except :func:`load_profile` reading the file.

Besides plain values ("gauges") a profile may declare counters (``kind = "counter"``, published
as the increase since the previous poll), ``range = [min, max]`` per field, device ``[params]``
given in the gateway config, ``[[derived]]`` fields computed by a tiny safe expression
(:mod:`gateway.devices.modbus.expr`) and an ``[identify]`` register. The stateful part (counters,
ranges, derived values) is :class:`gateway.devices.modbus.decoder.DeviceDecoder`.
"""

from __future__ import annotations

import difflib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.devices.modbus.expr import Expression, parse_expression
from gateway.devices.modbus.schema import (
    FUNCTION_CODES,
    MAX_BLOCK,
    RAW_RANGE,
    WIDTH,
    DerivedField,
    FieldName,
    Identify,
    Profile,
    ProfileDecodeError,
    ProfileField,
    ProfileParam,
    Range,
    RegisterType,
    profile_problems,
)
from kernel.config import ConfigError, load_toml
from kernel.text import TextError

__all__ = [
    "FUNCTION_CODES",
    "MAX_BLOCK",
    "PROFILE_DIR",
    "RAW_RANGE",
    "WIDTH",
    "CompiledProfile",
    "DerivedField",
    "FieldName",
    "Identify",
    "Profile",
    "ProfileDecodeError",
    "ProfileField",
    "ProfileParam",
    "Range",
    "RegisterType",
    "compile_profile",
    "encode_raw",
    "find_profile",
    "load_profile",
    "plan_blocks",
    "profile_is_path",
    "profile_problems",
    "raw_from_value",
]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


def profile_is_path(name_or_path: str | Path) -> bool:
    """Anything with a slash or a ``.toml`` suffix is a path, not a profile name."""
    text = str(name_or_path)
    return "/" in text or text.endswith(".toml")


def no_such_profile(name: str, known: list[str]) -> TextError:
    """A profile name that does not exist, with the closest known name ("did you mean")."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    shown = ", ".join(known) or "-"
    if close:
        return TextError("config.err.no_profile_close", name=name, close=close[0], known=shown)
    return TextError("config.err.no_profile", name=name, known=shown)


def find_profile(name_or_path: str | Path) -> Path:
    """A bare name (``pm-th-generic``) is looked up in gateway/devices/modbus/profiles/; anything
    with a slash or a ``.toml`` suffix is a path."""
    text = str(name_or_path)
    if profile_is_path(text):
        return Path(text)
    path = PROFILE_DIR / f"{text}.toml"
    if not path.is_file():
        names = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
        raise ConfigError(path, [("profile", text, no_such_profile(text, names))])
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
    if field.kind == "counter":  # the raw count; the increase is scaled by the DeviceDecoder
        scale, offset = 1.0, 0.0
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
    """A profile ready to poll: its read plan, pure decoders and parsed expressions."""

    profile: Profile
    function_code: int
    blocks: tuple[tuple[int, int], ...]
    decoders: tuple[tuple[str, Decoder], ...]
    derived: tuple[tuple[DerivedField, Expression], ...] = ()

    @property
    def measurement(self) -> str:
        return self.profile.measurement

    def decode(self, registers: Mapping[int, int]) -> dict[str, float]:
        """Decoded values by field name: ``round(raw * scale + offset, 6)``, and for counters
        the raw count. Stateless: no ranges, counter increases or derived fields (see
        :class:`gateway.devices.modbus.decoder.DeviceDecoder`). The result may hold NaN or infinity
        for float32 registers; callers that publish must drop those."""
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
        derived=tuple((d, parse_expression(d.expression)) for d in profile.derived),
    )
