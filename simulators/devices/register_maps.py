"""The register maps of emulated Modbus sensors, read from the profile TOML files as data.

The profiles in ``gateway/devices/modbus/profiles/`` (docs/protocol.md 5.2) describe each model;
this module reads only what an emulator needs from them with :mod:`tomllib` (no gateway code):
where each field lives, its type and word order, scale and offset, counters, ranges,
``publish``, ``[[derived]]`` expressions, param defaults, ``max_gap`` and ``[identify]``.

:meth:`RegisterMap.encode` turns physical values into registers and the values those registers
carry; :meth:`RegisterMap.published` says what a gateway that follows docs/protocol.md 5.2
publishes from the carried values (ranges, ``publish = false``, derived fields computed with
the emulator's own small evaluator, rounded to 6 decimals). Counters are left out: what is
published of them is an increase between two polls, which depends on the poller.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from simulators.devices.wire.registers import BITS, RegisterField, spans, words

T = TypeVar("T")

#: The shipped profiles, read as files (the package data of ``gateway``, beside this package).
PROFILE_DIR = Path(__file__).resolve().parents[2] / "gateway" / "devices" / "modbus" / "profiles"


REQUIRED = object()  # a key without a default


class RegisterMapError(ValueError):
    """A profile the emulator cannot use; the message names the file, key and value."""


@dataclass(frozen=True)
class Derived:
    name: str
    expression: str
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Encoded:
    """Registers of one step and the values they carry."""

    registers: dict[int, int]
    carried: dict[str, float]  # gauge fields: round(raw * scale + offset, 6)
    counters: dict[str, int]  # counter fields: the raw count


@dataclass(frozen=True)
class RegisterMap:
    model: str
    function: str  # "holding" or "input"
    fields: tuple[RegisterField, ...]
    max_gap: int = 10
    derived: tuple[Derived, ...] = ()
    param_defaults: Mapping[str, float] | None = None
    identify: tuple[int, int] | None = None  # (address, value)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The address ranges the device answers."""
        extra = [self.identify[0]] if self.identify else []
        return spans(self.fields, self.max_gap, extra)

    def encode(self, values: Mapping[str, float]) -> Encoded:
        """Registers holding physical *values* by field name (counters: the raw count; a
        missing field reads 0), with the ``[identify]`` register."""
        registers: dict[int, int] = {}
        carried: dict[str, float] = {}
        counters: dict[str, int] = {}
        for f in self.fields:
            raw = f.raw(values.get(f.name, 0.0))
            registers.update(zip(f.addresses, words(f.type, raw, f.word_order), strict=True))
            if f.counter:
                counters[f.name] = int(raw)
            else:
                carried[f.name] = f.carried(raw)
        if self.identify is not None:
            registers.setdefault(*self.identify)
        return Encoded(registers, carried, counters)

    def published(
        self, carried: Mapping[str, float], params: Mapping[str, float] | None = None
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(fields a gateway publishes from *carried*, values it refuses as out of range)."""
        env: dict[str, float] = {**(self.param_defaults or {}), **(params or {})}
        fields: dict[str, float] = {}
        refused: dict[str, float] = {}
        for f in self.fields:
            if f.counter or f.name not in carried:
                continue
            value = carried[f.name]
            if not _inside(value, f.range):
                refused[f.name] = value
                continue
            env[f.name] = value
            if f.publish:
                fields[f.name] = value
        for d in self.derived:
            try:
                value = round(evaluate(d.expression, env), 6)
            except (KeyError, ZeroDivisionError):
                continue  # an input is missing or refused: the gateway publishes no value
            if _inside(value, d.range):
                env[d.name] = fields[d.name] = value
            else:
                refused[d.name] = value
        return fields, refused


def _inside(value: float, bounds: tuple[float, float] | None) -> bool:
    return math.isfinite(value) and (bounds is None or bounds[0] <= value <= bounds[1])


# -- reading a profile ---------------------------------------------------------------------------


def profile_path(name_or_path: str | Path) -> Path:
    """A bare name is a shipped profile; with a ``/`` or a ``.toml`` suffix it is a path."""
    text = str(name_or_path)
    if "/" in text or text.endswith(".toml"):
        return Path(text)
    return PROFILE_DIR / f"{text}.toml"


def profile_section(name_or_path: str | Path, section: str, check: Callable[[Any], T]) -> T:
    """The profile's ``[section]`` (an empty table when it has none) as *check* returns it;
    a file that cannot be read or a value *check* refuses is a RegisterMapError naming the
    file and the key."""
    path = profile_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return check(data.get(section, {}))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegisterMapError(f"{path}: cannot read the profile: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise RegisterMapError(f"{path}: {section}.{key}: {error['msg']}") from None


def load_register_map(name_or_path: str | Path) -> RegisterMap:
    path = profile_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegisterMapError(f"{path}: cannot read the profile: {exc}") from None
    return register_map(data, str(path))


def register_map(data: Mapping[str, Any], where: str = "profile") -> RegisterMap:
    """The register map of a profile's parsed TOML."""

    def get(table: Mapping[str, Any], key: str, kinds: Any, default: Any, at: str) -> Any:
        """``table[key]`` of type *kinds* (*default* when absent; REQUIRED: must be there)."""
        value = table.get(key, default)
        if value is None and default is None:
            return None
        if value is REQUIRED:
            raise RegisterMapError(f"{where}: {at}{key}: missing")
        ok = isinstance(value, bool) if kinds is bool else isinstance(value, kinds)
        if not ok or (kinds is not bool and isinstance(value, bool)):
            names = [k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,))]
            raise RegisterMapError(f"{where}: {at}{key} = {value!r}: not {' or '.join(names)}")
        return value

    fields = []
    for i, table in enumerate(data.get("fields", [])):
        at = f"fields[{i}]."
        type_ = get(table, "type", str, "uint16", at)
        if type_ not in BITS:
            raise RegisterMapError(f"{where}: {at}type = {type_!r}: not one of {list(BITS)}")
        order = get(table, "word_order", str, "big", at)
        if order not in ("big", "little"):
            raise RegisterMapError(f"{where}: {at}word_order = {order!r}: not big or little")
        kind = get(table, "kind", str, "gauge", at)
        if kind not in ("gauge", "counter"):
            raise RegisterMapError(f"{where}: {at}kind = {kind!r}: not gauge or counter")
        scale = float(get(table, "scale", (int, float), 1.0, at))
        if scale == 0:
            raise RegisterMapError(f"{where}: {at}scale = 0: must not be 0")
        fields.append(
            RegisterField(
                name=get(table, "name", str, REQUIRED, at),
                address=get(table, "address", int, REQUIRED, at),
                type=type_,
                word_order=order,
                scale=scale,
                offset=float(get(table, "offset", (int, float), 0.0, at)),
                counter=kind == "counter",
                rollover=get(table, "rollover", int, None, at),
                range=_range(table.get("range"), f"{where}: {at}range"),
                publish=get(table, "publish", bool, True, at),
            )
        )
    if not fields:
        raise RegisterMapError(f"{where}: fields: a profile needs at least one field")
    derived = tuple(
        Derived(
            get(d, "name", str, REQUIRED, f"derived[{i}]."),
            get(d, "expression", str, REQUIRED, f"derived[{i}]."),
            _range(d.get("range"), f"{where}: derived[{i}].range"),
        )
        for i, d in enumerate(data.get("derived", []))
    )
    for i, d in enumerate(derived):
        try:
            evaluate(d.expression, _AnyName())
        except ValueError as exc:
            raise RegisterMapError(f"{where}: derived[{i}].expression: {exc}") from None
        except ZeroDivisionError:
            pass  # depends on the values
    defaults = {
        name: float(spec["default"])
        for name, spec in data.get("params", {}).items()
        if isinstance(spec, Mapping) and isinstance(spec.get("default"), int | float)
    }
    ident = data.get("identify")
    identify = None
    if ident is not None:
        identify = (
            get(ident, "address", int, REQUIRED, "identify."),
            get(ident, "value", int, REQUIRED, "identify."),
        )
    return RegisterMap(
        model=get(data, "model", str, Path(where).stem, ""),
        function=get(data, "function", str, "holding", ""),
        fields=tuple(fields),
        max_gap=get(data, "max_gap", int, 10, ""),
        derived=derived,
        param_defaults=defaults,
        identify=identify,
    )


def _range(value: Any, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
    ):
        raise RegisterMapError(f"{where} = {value!r}: not [min, max]")
    return float(value[0]), float(value[1])


# -- derived expressions -------------------------------------------------------------------------


class _AnyName(dict):
    """Every name is 1.0: for checking an expression's syntax."""

    def __missing__(self, name: str) -> float:
        return 1.0


_TOKEN = re.compile(
    r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|(.))"
)
_CALLS = {"min": min, "max": max, "abs": abs}


def evaluate(expression: str, env: Mapping[str, float]) -> float:
    """The value of a derived-field expression (numbers, names, ``+ - * /``, unary signs,
    parentheses, ``min``/``max``/``abs``). Raises KeyError for a missing name,
    ZeroDivisionError, and ValueError for text that is not such an expression."""
    tokens: list[tuple[str, str]] = []
    for number, name, other in _TOKEN.findall(expression.strip()):
        tokens.append(("num", number) if number else ("name", name) if name else ("op", other))
    tokens.append(("end", ""))
    pos = 0

    def peek() -> tuple[str, str]:
        return tokens[pos]

    def take(op: str | None = None) -> tuple[str, str]:
        nonlocal pos
        token = tokens[pos]
        if op is not None and token != ("op", op):
            raise ValueError(f"{expression!r}: expected {op!r} at {token[1]!r}")
        pos += 1
        return token

    def sum_() -> float:
        value = product()
        while peek() in (("op", "+"), ("op", "-")):
            value = value + product() if take()[1] == "+" else value - product()
        return value

    def product() -> float:
        value = unary()
        while peek() in (("op", "*"), ("op", "/")):
            value = value * unary() if take()[1] == "*" else value / unary()
        return value

    def unary() -> float:
        if peek() in (("op", "-"), ("op", "+")):
            return -unary() if take()[1] == "-" else unary()
        return atom()

    def atom() -> float:
        kind, text = take()
        if kind == "num":
            return float(text)
        if kind == "name" and peek() == ("op", "("):
            if text not in _CALLS:
                raise ValueError(f"{expression!r}: unknown function {text!r}")
            take("(")
            args = [sum_()]
            while peek() == ("op", ","):
                take()
                args.append(sum_())
            take(")")
            return float(_CALLS[text](*args))
        if kind == "name":
            return float(env[text])
        if (kind, text) == ("op", "("):
            value = sum_()
            take(")")
            return value
        raise ValueError(f"{expression!r}: unexpected {text!r}")

    value = sum_()
    if peek()[0] != "end":
        raise ValueError(f"{expression!r}: unexpected {peek()[1]!r}")
    return value
