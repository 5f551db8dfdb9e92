"""Recognising a sensor model on a bus from its profile (pure helpers for ``gateway scan``).

Two ways, chosen by the profile:

- an ``[identify]`` section: one register (``function``, default the profile's; ``address``)
  whose value ANDed with ``mask`` must equal ``value`` (a model or vendor code);
- otherwise the field ranges: read the profile's blocks once; every gauge field with a
  ``range`` must decode to a finite value inside it (at least one such field is needed;
  counters and derived fields are not used, they need several polls or device params).

Pure use (the caller does the I/O)::

    for fc, address, count in identify_requests(compiled):
        answers[(fc, address, count)] = <registers read from the unit>
    result = identify_match(compiled, answers)   # Identification; bool(result) is the verdict

or in one call with a reader ``read(function_code, address, count) -> list[int]`` that
raises on any failure (timeout, exception response...): ``identify(compiled, read)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.devices.modbus.profile import FUNCTION_CODES, CompiledProfile, ProfileDecodeError

Request = tuple[int, int, int]  # function code, address, count
Reader = Callable[[int, int, int], Sequence[int]]


@dataclass(frozen=True)
class Identification:
    """The verdict for one profile: ``matched``, ``method`` (``register``, ``ranges`` or
    ``none`` when the profile gives no way) and a ``detail`` for people."""

    model: str
    matched: bool
    method: str
    detail: str

    def __bool__(self) -> bool:
        return self.matched


def identify_requests(compiled: CompiledProfile) -> list[Request]:
    """The reads that :func:`identify_match` needs, as (function code, address, count)."""
    ident = compiled.profile.identify
    if ident is not None:
        fc = FUNCTION_CODES[ident.function] if ident.function else compiled.function_code
        return [(fc, ident.address, 1)]
    if not _range_fields(compiled):
        return []
    return [(compiled.function_code, start, count) for start, count in compiled.blocks]


def identify_match(
    compiled: CompiledProfile, answers: Mapping[Request, Sequence[int]]
) -> Identification:
    """Judge the registers read for :func:`identify_requests` (missing answers: no match)."""
    model = compiled.profile.model
    requests = identify_requests(compiled)
    if not requests:
        return Identification(model, False, "none", "the profile has no [identify] and no ranges")
    ident = compiled.profile.identify
    missing = [r for r in requests if r not in answers]
    if missing:
        return Identification(model, False, _method(compiled), f"no answer to {missing[0]}")
    if ident is not None:
        regs = list(answers[requests[0]])
        if not regs:
            return Identification(model, False, "register", "empty answer")
        word = regs[0]
        ok = word & ident.mask == ident.value
        verb = "matches" if ok else "differs from"
        detail = (
            f"register {ident.address} = 0x{word:04x}, masked 0x{word & ident.mask:04x} {verb} "
            f"0x{ident.value:04x}"
        )
        return Identification(model, ok, "register", detail)
    registers: dict[int, int] = {}
    for fc_, start, count in requests:
        registers.update(
            zip(range(start, start + count), answers[(fc_, start, count)], strict=False)
        )
    try:
        values = compiled.decode(registers)
    except ProfileDecodeError as exc:
        return Identification(model, False, "ranges", str(exc))
    for f in _range_fields(compiled):
        value = values[f.name]
        assert f.range is not None
        if not (math.isfinite(value) and f.range[0] <= value <= f.range[1]):
            detail = f"{f.name} = {value} outside [{f.range[0]}, {f.range[1]}]"
            return Identification(model, False, "ranges", detail)
    names = ", ".join(f.name for f in _range_fields(compiled))
    return Identification(model, True, "ranges", f"{names} within range")


def identify(compiled: CompiledProfile, read: Reader) -> Identification:
    """Read what is needed with *read* and judge it. Any exception from *read* is a
    non-match whose detail names it."""
    answers: dict[Request, Sequence[int]] = {}
    for request in identify_requests(compiled):
        try:
            answers[request] = list(read(*request))
        except Exception as exc:  # the reader's failure is the verdict, not a crash
            return Identification(
                compiled.profile.model, False, _method(compiled), f"read {request} failed: {exc}"
            )
    return identify_match(compiled, answers)


def _range_fields(compiled: CompiledProfile) -> list:
    return [f for f in compiled.profile.fields if f.kind == "gauge" and f.range is not None]


def _method(compiled: CompiledProfile) -> str:
    return "register" if compiled.profile.identify is not None else "ranges"
