"""InfluxDB 1.x's rules for a point, for a backend that stores points like it (store.sqlite).

Pure functions, no I/O: the InfluxDB type of a field value, the tag set that identifies a
series (empty tag values dropped: InfluxDB refuses them, and an empty tag is the same as
none), and why InfluxDB would drop a point (no fields, a value it cannot store, a field type
conflict). The contract tests (tests/store/test_contract.py) hold a backend using them to
what a real InfluxDB does.
"""

from __future__ import annotations

import math
from typing import Any

from telemetry.mapping import Point

INT64 = (-(2**63), 2**63 - 1)
CASTS: dict[str, Any] = {"integer": int, "float": float, "string": str, "boolean": bool}


def field_kind(value: object) -> str | None:
    """InfluxDB type name of a field value, or None if InfluxDB has no such type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None


def clean_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: tags[k] for k in sorted(tags) if tags[k] != ""}


def point_problem(point: Point, types: dict[tuple[str, str], str]) -> str | None:
    """Why InfluxDB would drop *point* given the known *types*, or None if it is valid."""
    if not point.fields:
        return f"unable to parse point of measurement {point.measurement!r}: no fields"
    for name, value in point.fields.items():
        kind = field_kind(value)
        if kind is None:
            return f"unable to parse field {name!r}: unsupported value {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"unable to parse field {name!r}: {value!r} is not a finite number"
        if kind == "integer" and not INT64[0] <= int(value) <= INT64[1]:
            return f"unable to parse field {name!r}: {value} is out of the int64 range"
        known = types.get((point.measurement, name))
        if known is not None and known != kind:
            return (
                f'field type conflict: input field "{name}" on measurement '
                f'"{point.measurement}" is type {kind}, already exists as type {known}'
            )
    return None
