"""The schema of Modbus register-map profiles: pydantic models and the checks across fields.

Loading and compiling live in :mod:`gateway.devices.modbus.profile`, which re-exports these names;
the format is documented in docs/protocol.md 5.2.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from gateway.devices.modbus.expr import ExpressionError, parse_expression
from telemetry.models import PIPELINE_MEASUREMENTS, PIPELINE_PREFIX, reserved_measurement
from telemetry.node_firmware import NodeInfo
from telemetry.node_settings import NodeSetting, settings_problems
from telemetry.units import FIELDS

MAX_BLOCK = 125  # registers in one read request

RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32"]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Finite = Annotated[float, Field(allow_inf_nan=False)]
#: ``[min, max]``: a decoded value outside is refused (that field only).
Range = tuple[Finite, Finite]

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


def _check_range(value: Range | None) -> Range | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError("range must be [min, max] with min < max")
    return value


def _check_contract_unit(name: str, unit: str) -> str:
    spec = FIELDS.get(name)
    if spec is not None and unit != spec.unit:
        raise ValueError(
            f"field {name!r} is in {spec.unit!r} by the protocol (table 2.2): convert with "
            "scale and offset"
        )
    return unit


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
    kind: Literal["gauge", "counter"] = Field(
        "gauge",
        description="'gauge': the value itself; 'counter': a raw count that only grows, "
        "published as (increase since the previous poll) * scale",
    )
    rollover: int | None = Field(
        None, ge=2, description="counters: the count wraps to 0 here (default 2**16 or 2**32)"
    )
    max_increase: int | None = Field(
        None, ge=1, description="counters (required): the largest plausible rise between polls"
    )
    range: Range | None = Field(None, description="[min, max] of a plausible value")
    publish: bool = Field(True, description="false: only an input of derived fields")

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
        return _check_contract_unit(info.data.get("name", ""), value)

    @field_validator("kind")
    @classmethod
    def _counter_type(cls, value: str, info: ValidationInfo) -> str:
        if value == "counter":
            if info.data.get("type") not in ("uint16", "uint32"):
                raise ValueError("a counter is a uint16 or uint32 register")
            if info.data.get("offset"):
                raise ValueError("a counter is published as an increase: offset must be 0")
        return value

    @field_validator("rollover", "max_increase")
    @classmethod
    def _counter_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if info.data.get("kind") != "counter":
            raise ValueError(f"{info.field_name} is only for kind = 'counter'")
        bits = WIDTH.get(info.data.get("type", ""), 2) * 16
        if info.field_name == "rollover" and value > 2**bits:
            raise ValueError(f"a {info.data.get('type')} counter wraps at {2**bits} at most")
        return value

    _range = field_validator("range")(_check_range)

    @property
    def registers(self) -> range:
        return range(self.address, self.address + WIDTH[self.type])

    @property
    def modulus(self) -> int:
        """Counters: the count wraps to 0 at this value."""
        return self.rollover or 2 ** (16 * WIDTH[self.type])


class ProfileParam(BaseModel):
    """A per-device number given in the gateway config (``params = { reference = 250.0 }``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    unit: str = Field(min_length=1, max_length=16)
    default: Finite | None = Field(None, description="none: the gateway config must give it")
    range: Range | None = None

    _range = field_validator("range")(_check_range)


class DerivedField(BaseModel):
    """A field computed from fields and params, e.g. ``level = reference - distance``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FieldName
    expression: str = Field(description="numbers, names, + - * /, min(), max(), abs()")
    unit: str = Field(min_length=1, max_length=16)
    range: Range | None = None

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_expression(value)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("unit")
    @classmethod
    def _contract_unit(cls, value: str, info: ValidationInfo) -> str:
        return _check_contract_unit(info.data.get("name", ""), value)

    _range = field_validator("range")(_check_range)


class Identify(BaseModel):
    """How ``jagajalan gateway scan`` recognises the model: one register whose value, masked,
    equals ``value``. Without it, a model is recognised by its field ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: Literal["holding", "input"] | None = Field(None, description="default: profile's")
    address: int = Field(ge=0, le=0xFFFF)
    value: int = Field(ge=0, le=0xFFFF)
    mask: int = Field(0xFFFF, ge=1, le=0xFFFF)

    @field_validator("mask")
    @classmethod
    def _value_in_mask(cls, mask: int, info: ValidationInfo) -> int:
        value = info.data.get("value")
        if value is not None and value & ~mask:
            raise ValueError(f"value 0x{value:04x} has bits outside mask 0x{mask:04x}")
        return mask


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
    params: dict[FieldName, ProfileParam] = Field(default_factory=dict)
    derived: list[DerivedField] = Field(default_factory=list, max_length=64)
    identify: Identify | None = None
    settings: dict[FieldName, NodeSetting] = Field(
        default_factory=dict,
        description="the node's configuration registers (`jagajalan firmware node get|set`)",
    )
    info: NodeInfo = Field(
        default_factory=NodeInfo,
        description="facts read once per connection, not every poll: [info.firmware]",
    )

    @field_validator("measurement")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if reserved_measurement(value):
            raise ValueError(
                f"reserved: JagaJalan writes {', '.join(PIPELINE_MEASUREMENTS)} and every"
                f" {PIPELINE_PREFIX}* measurement itself (docs/protocol.md, section 4)"
            )
        return value


def profile_problems(profile: Profile) -> list[tuple[str, Any, str]]:
    """(key, value, message) for every problem across fields: a name or register used twice,
    an expression naming something unknown, a default outside its range..."""
    problems: list[tuple[str, Any, str]] = []
    names: dict[str, str] = {p: f"params.{p}" for p in profile.params}
    owner: dict[int, int] = {}
    for i, f in enumerate(profile.fields):
        if f.name in names:
            problems.append((f"fields[{i}].name", f.name, f"already used by {names[f.name]}"))
        names.setdefault(f.name, f"fields[{i}]")
        if f.kind == "counter" and f.max_increase is None:
            problems.append(
                (
                    f"fields[{i}].max_increase",
                    None,
                    "a counter needs max_increase: the largest plausible rise between two polls "
                    "(in counts), which tells a rollover or a reset from a glitch",
                )
            )
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
    for i, d in enumerate(profile.derived):
        unknown = sorted(parse_expression(d.expression).names - names.keys())
        if unknown:
            known = ", ".join(names) or "none"
            problems.append(
                (
                    f"derived[{i}].expression",
                    d.expression,
                    f"unknown name(s) {unknown} "
                    f"(known here: {known}; a derived field may use only earlier ones)",
                )
            )
        if d.name in names:
            problems.append((f"derived[{i}].name", d.name, f"already used by {names[d.name]}"))
        names.setdefault(d.name, f"derived[{i}]")
    for name, param in profile.params.items():
        r = param.range
        if param.default is not None and r is not None and not r[0] <= param.default <= r[1]:
            problems.append((f"params.{name}.default", param.default, f"outside range {list(r)}"))
    problems.extend(settings_problems(profile.settings))
    if profile.function == "holding":
        for name, setting in profile.settings.items():
            if clash := sorted(set(setting.registers) & owner.keys()):
                field = profile.fields[owner[clash[0]]].name
                problems.append(
                    (
                        f"settings.{name}.address",
                        setting.address,
                        f"register {clash[0]} is also read as field {field!r}",
                    )
                )
    if (fw := profile.info.firmware) is not None:
        span = set(range(fw.address, fw.address + fw.registers))
        used = {r: f"field {profile.fields[i].name!r}" for r, i in owner.items()}
        for name, setting in profile.settings.items():
            used.update(dict.fromkeys(setting.registers, f"setting {name!r}"))
        if clash := sorted(span & used.keys()):
            problems.append(
                (
                    "info.firmware.address",
                    fw.address,
                    f"register {clash[0]} is also read as {used[clash[0]]}",
                )
            )
    if not any(f.publish for f in profile.fields) and not profile.derived:
        problems.append(("fields", None, "nothing to publish: every field has publish = false"))
    if sum(f.publish for f in profile.fields) + len(profile.derived) > 64:
        problems.append(("derived", None, "more than 64 published fields (protocol limit)"))
    return problems
