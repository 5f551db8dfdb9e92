"""Per-device decoding of a Modbus profile: registers in, publishable fields out (pure).

:class:`gateway.devices.modbus.profile.CompiledProfile` turns registers into values without state. A
:class:`DeviceDecoder` adds what needs the device's params or memory between polls:

1. **Counters** (``kind = "counter"``) are published as the increase since the previous poll,
   times ``scale`` (a tipping-bucket rain gauge: tips * 0.2 mm). See :func:`counter_increase`:
   the first poll after start or after the port was reopened only sets the baseline (no value);
   a count that went down is a rollover when the wrapped increase is at most ``max_increase``,
   else a power-loss reset when the new count is at most ``max_increase`` (the device
   restarted from 0, so the new count is what it counted since: published, as Prometheus'
   ``increase()`` does), else a glitch (no value, new baseline). A rise above
   ``max_increase`` is a glitch too.
2. **Ranges**: a value outside its field's ``range`` is not published; it is a problem for
   that field only, the others are still published. Values that are not finite (a float32
   NaN) are problems too.
3. **Derived fields** are computed in order from the fields that passed (published or not),
   the device params and earlier derived fields; one whose input is missing is a problem.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.devices.modbus.expr import ExpressionError
from gateway.devices.modbus.profile import CompiledProfile, Profile, ProfileField

CounterEvent = Literal["baseline", "ok", "rollover", "reset", "jump", "backwards", "invalid"]


def counter_increase(
    previous: int | None, current: int, rollover: int, max_increase: int
) -> tuple[int | None, CounterEvent]:
    """The counts between two polls of a counter that wraps to 0 at *rollover*, and what
    happened. ``None`` means no value this poll (the baseline moves to *current* anyway)."""
    if not 0 <= current < rollover:
        return None, "invalid"
    if previous is None:
        return None, "baseline"
    if current >= previous:
        rise = current - previous
        return (rise, "ok") if rise <= max_increase else (None, "jump")
    wrapped = current + rollover - previous
    if wrapped <= max_increase:
        return wrapped, "rollover"
    if current <= max_increase:
        return current, "reset"
    return None, "backwards"


@dataclass
class Decoded:
    """The outcome of one poll: what to publish and what went wrong, field by field."""

    fields: dict[str, float] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # field -> why it is not published
    events: list[str] = field(default_factory=list)  # counter rollovers and resets, for the log
    counters: dict[str, int] = field(default_factory=dict)  # raw counts read this poll


def resolve_params(profile: Profile, given: Mapping[str, Any]) -> tuple[dict[str, float], list]:
    """The device's param values (given, else the profile's default) and the problems as
    ``(key, value, message)`` with keys relative to the device (``params.reference``)."""
    problems: list[tuple[str, Any, str]] = []
    values: dict[str, float] = {}
    for name in given:
        if name not in profile.params:
            known = ", ".join(profile.params) or "none"
            problems.append(
                (
                    f"params.{name}",
                    given[name],
                    f"profile {profile.model!r} has no such param (known: {known})",
                )
            )
    for name, spec in profile.params.items():
        value = given.get(name, spec.default)
        where = f"params.{name}"
        if value is None:
            what = f": {spec.description}" if spec.description else ""
            problems.append(
                (where, None, f"required by profile {profile.model!r} ({spec.unit}{what})")
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((where, value, f"must be a number ({spec.unit})"))
            continue
        if not math.isfinite(value):
            problems.append((where, value, "must be a finite number"))
            continue
        if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
            problems.append((where, value, f"outside {list(spec.range)} {spec.unit}"))
            continue
        values[name] = float(value)
    return values, problems


class ParamError(ValueError):
    """Params that do not fit the profile; :attr:`problems` as ``(key, value, message)``."""

    def __init__(self, problems: list[tuple[str, Any, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k} = {v!r}: {m}" for k, v, m in problems))


class DeviceDecoder:
    """Decodes the registers of one device, poll after poll (it remembers counter values)."""

    def __init__(self, compiled: CompiledProfile, params: Mapping[str, Any] | None = None):
        self.compiled = compiled
        self.params, problems = resolve_params(compiled.profile, params or {})
        if problems:
            raise ParamError(problems)
        self._fields: dict[str, ProfileField] = {f.name: f for f in compiled.profile.fields}
        self._last: dict[str, int] = {}

    def reset(self) -> None:
        """Forget the counter baselines: the next poll gives no increase (after a reconnect,
        the device at the other end may not be the same one)."""
        self._last.clear()

    def decode(self, registers: Mapping[int, int]) -> Decoded:
        """Raises :class:`gateway.devices.modbus.profile.ProfileDecodeError` only if registers are
        missing."""
        raw = self.compiled.decode(registers)
        out = Decoded()
        env: dict[str, float] = dict(self.params)
        for name, value in raw.items():
            f = self._fields[name]
            if f.kind == "counter":
                value = self._counter(f, value, out)
                if value is None:
                    continue
            if self._accept(name, value, f.range, out):
                env[name] = value
                if f.publish:
                    out.fields[name] = value
        for spec, expression in self.compiled.derived:
            missing = sorted(n for n in expression.names if n not in env)
            if missing:
                out.problems[spec.name] = f"no value for {', '.join(missing)}"
                continue
            try:
                value = round(expression(env), 6)
            except ExpressionError as exc:
                out.problems[spec.name] = str(exc)
                continue
            if self._accept(spec.name, value, spec.range, out):
                env[spec.name] = out.fields[spec.name] = value
        return out

    def _counter(self, f: ProfileField, value: float, out: Decoded) -> float | None:
        current = int(value)
        assert f.max_increase is not None  # enforced by profile_problems
        previous = self._last.get(f.name)
        rise, event = counter_increase(previous, current, f.modulus, f.max_increase)
        if event == "invalid":
            out.problems[f.name] = f"counter {current} is not below its rollover {f.modulus}"
            return None
        out.counters[f.name] = self._last[f.name] = current
        if event in ("jump", "backwards"):
            out.problems[f.name] = (
                f"counter went from {previous} to {current}: neither a rise of at most "
                f"{f.max_increase}, a rollover at {f.modulus} nor a reset; new baseline"
            )
        elif event in ("rollover", "reset"):
            out.events.append(f"{f.name}: counter {event} ({previous} -> {current})")
        if rise is None:
            return None
        return round(rise * f.scale, 6)

    @staticmethod
    def _accept(name: str, value: float, bounds: tuple[float, float] | None, out: Decoded) -> bool:
        if not math.isfinite(value):
            out.problems[name] = f"value {value} is not a finite number"
            return False
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            out.problems[name] = f"out of range: {value} not in [{bounds[0]}, {bounds[1]}]"
            return False
        return True
