"""Argument checks shared by the analytics modules. Pure; each error names what is wrong."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence


def number(name: str, value: object) -> float:
    """*value* as a finite float, else a ValueError naming *name* and the value."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{name} {value!r} is not a finite number")
    return x


def non_negative(name: str, value: object) -> float:
    x = number(name, value)
    if x < 0:
        raise ValueError(f"{name} {value!r} is negative")
    return x


def positive(name: str, value: object) -> float:
    x = number(name, value)
    if x <= 0:
        raise ValueError(f"{name} = {value!r}: must be > 0")
    return x


def rising(name: str, values: Sequence[float]) -> tuple[float, ...]:
    """*values* as finite floats that rise strictly, else a ValueError naming *name*."""
    out = tuple(number(name, v) for v in values)
    if any(a >= b for a, b in itertools.pairwise(out)):
        raise ValueError(f"{name} = {list(out)}: values must rise strictly")
    return out


def between(name: str, value: object, low: float, high: float) -> float:
    x = number(name, value)
    if not low <= x <= high:
        raise ValueError(f"{name} = {value!r}: must be between {low:g} and {high:g}")
    return x
