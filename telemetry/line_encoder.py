"""Readings straight to InfluxDB line protocol, without :class:`~telemetry.mapping.Point`
objects: the :class:`LineEncoder` of ingest's InfluxDB path, which is also where the names
of readings decoded by a fast path are checked (once per series). It writes exactly the lines
of :func:`telemetry.mapping.to_line` (property tests in tests/telemetry/test_line_protocol.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from telemetry.mapping import _JSON, _NAME_RE, _series, format_float
from telemetry.models import READING_TAGS, TAG_VALUE_PATTERN, Batch, Reading, reserved_measurement
from telemetry.topics import ID_RE, reserved_id
from telemetry.units import field_kind


class InvalidName(ValueError):
    """A reading's name or tag that the contract (telemetry.models) does not allow."""


class LineEncoder:
    """Readings straight to line protocol, without building :class:`Point` objects: the same
    lines as ``[to_line(p) for p in batch_to_points(batch)]``, several times faster.

    Readings are objects with the attributes of :class:`~telemetry.models.Reading` (the models
    themselves, or ingest's decoded wire structs), whose values of float fields are floats.
    For each series and set of field names, the escaped ``measurement,tags `` prefix and the
    types of the fields are worked out once and cached (at most *max_series* entries, then the
    cache starts over). That is also where names are checked against the contract: a reading
    whose measurement, sensor, field names or tags the contract does not allow (also a
    reserved gateway id or a reserved measurement) raises :class:`InvalidName`, so a decoder
    that checked only the numbers (ingest's fast path) can rely on the encoder for the names,
    once per series instead of once per reading.

    The fields of a whole batch are formatted by one call of msgspec's JSON encoder (C):
    field names need no escaping in line protocol (the contract allows ``[a-z0-9_]`` only),
    so ``{"pm25":41.3,"rh":78.0}`` becomes ``pm25=41.3,rh=78.0`` by deleting quotes and
    turning colons into equals signs. Numbers are written as :func:`format_float` writes
    them. Readings with integer fields (counts) are formatted one by one."""

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        # (gateway, measurement, sensor, tags, field names) -> (prefix, int fields)
        self._templates: dict[tuple, tuple[str, tuple[bool, ...] | None]] = {}

    def batch_lines(self, batch: Batch) -> list[str]:
        """The lines of a validated :class:`~telemetry.models.Batch` (meta line not included)."""
        readings = [_FloatReading(r) for r in batch.readings]
        return self.reading_lines(batch.gateway, readings)[0]

    def reading_lines(self, gateway: str, readings: Sequence[Any]) -> tuple[list[str], int]:
        """The lines of a gateway's readings, and the newest reading time."""
        # Every step below is one C loop over the readings (attribute reads, the cache keys
        # (gateway, measurement, sensor, tags, field names), the cache look-ups); Python
        # code runs per reading only for a series not in the cache, or with counts.
        fields: list[dict] = list(map(_FIELDS, readings))
        times: list[int] = list(map(_TIME, readings))
        entries = self._one_series(gateway, readings, fields)
        if entries is None:
            tags = list(map(tuple, map(dict.items, map(_TAGS, readings))))
            keys = zip(
                repeat(gateway),
                map(_MEASUREMENT, readings),
                map(_SENSOR, readings),
                tags,
                map(tuple, fields),
            )
            entries = list(map(self._templates.get, keys))
            if None in entries:
                for i, r in enumerate(readings):
                    if entries[i] is None:
                        key = (gateway, r.measurement, r.sensor, tags[i], tuple(r.fields))
                        entries[i] = self._templates.get(key) or self._template(key, gateway, r)
        prefixes = list(map(_FIRST, entries))
        counted = []  # readings with int fields
        if any(map(_SECOND, entries)):
            counted = [(i, e[1]) for i, e in enumerate(entries) if e[1] is not None]
        # [{"pm25":41.3,"rh":78.0},...] -> ["pm25=41.3,rh=78.0", ...]
        text = _JSON.encode(fields).replace(b'"', b"").replace(b":", b"=").decode()
        parts = text[2:-2].split("},{")
        for i, ints in counted:  # "count=12i,speed=41.5"
            parts[i] = _counted_fields(fields[i], ints)
        stamps = _JSON.encode(times).decode()[1:-1].split(",")
        lines = list(map("".join, zip(prefixes, parts, repeat(" "), stamps)))
        return lines, max(times)

    def _one_series(
        self, gateway: str, readings: Sequence[Any], fields: list[dict]
    ) -> list[tuple[str, tuple[bool, ...] | None]] | None:
        """The cache entry of every reading, when all are of one series with the same field
        names in the same order (a batch of one sensor): found by comparing each reading
        with the first (C loops), with one cache look-up, instead of one key built, hashed and
        looked up per reading. None when they are not."""
        n = len(readings)
        if not n:
            return None
        first = readings[0]
        names = tuple(first.fields)
        if (
            list(map(_MEASUREMENT, readings)).count(first.measurement) != n
            or list(map(_SENSOR, readings)).count(first.sensor) != n
            or list(map(_TAGS, readings)).count(first.tags) != n
            or list(map(tuple, fields)).count(names) != n
        ):
            return None
        key = (gateway, first.measurement, first.sensor, tuple(first.tags.items()), names)
        return [self._templates.get(key) or self._template(key, gateway, first)] * n

    def series(
        self, gateway: str, sensor: str, measurement: str, names: Sequence[str], tags: dict
    ) -> tuple[str, tuple[bool, ...] | None]:
        """The escaped ``measurement,tags `` prefix of a series and which of its fields are
        counts (None: none), from the same cache and with the same checks as
        :meth:`reading_lines` (:class:`InvalidName` for a name the contract does not allow)."""
        key = (gateway, measurement, sensor, tuple(tags.items()), tuple(names))
        entry = self._templates.get(key)
        if entry is None:
            r = _Names(sensor, measurement, dict.fromkeys(names), tags)
            entry = self._template(key, gateway, r)
        return entry

    def _template(self, key: tuple, gateway: str, r: Any) -> tuple[str, tuple[bool, ...] | None]:
        _check_names(gateway, r)
        if len(self._templates) >= self.max_series:
            self._templates.clear()
        tags = (("gateway", gateway), ("sensor", r.sensor), *r.tags.items())
        kinds = tuple(field_kind(name) == "int" for name in r.fields)
        entry = (_series(r.measurement, tags) + " ", kinds if any(kinds) else None)
        self._templates[key] = entry
        return entry


_FIELDS = attrgetter("fields")
_TIME = attrgetter("time")
_TAGS = attrgetter("tags")
_MEASUREMENT = attrgetter("measurement")
_SENSOR = attrgetter("sensor")
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_TAG_VALUE_RE = re.compile(TAG_VALUE_PATTERN)
#: Integers above this are not all exact as floats: a count that large takes the slow path.
_EXACT = 2**53


def _check_names(gateway: str, r: Any) -> None:
    problems = [
        f"{what} {value!r} does not match {pattern.pattern}"
        for what, value, pattern in (
            ("gateway", gateway, ID_RE),
            ("sensor", r.sensor, ID_RE),
            ("measurement", r.measurement, _NAME_RE),
            *(("field name", name, _NAME_RE) for name in r.fields),
            *(("tag value", value, _TAG_VALUE_RE) for value in r.tags.values()),
        )
        if type(value) is not str or pattern.fullmatch(value) is None
    ]
    problems += [f"unknown tag key {k!r}" for k in r.tags if k not in READING_TAGS]
    if not problems and reserved_id(gateway):
        problems.append(f"gateway {gateway!r} is a reserved id")
    if not problems and reserved_measurement(r.measurement):
        problems.append(f"measurement {r.measurement!r} is reserved (a pipeline measurement)")
    if problems:
        raise InvalidName("; ".join(problems))


def _counted_fields(fields: dict, ints: tuple[bool, ...]) -> str:
    out = []
    for (name, value), is_int in zip(fields.items(), ints):  # noqa: B905
        if is_int:
            if type(value) is float and not -_EXACT < value < _EXACT:
                raise InvalidName(f"field {name!r}: count {value!r} is too large to be exact")
            out.append(f"{name}={int(value)}i")
        else:
            out.append(f"{name}={format_float(value)}")
    return ",".join(out)


@dataclass(frozen=True, slots=True)
class _Names:
    """What :func:`_check_names` and the template read of a reading: its names."""

    sensor: str
    measurement: str
    fields: dict
    tags: dict


class _FloatReading:
    """A :class:`~telemetry.models.Reading` with its fields typed as the mapping types them
    (the model keeps an integer given for a float field as an int, and a float given for a
    count as a float)."""

    __slots__ = ("fields", "measurement", "sensor", "tags", "time")

    def __init__(self, r: Reading) -> None:
        self.sensor, self.measurement, self.time = r.sensor, r.measurement, r.time
        self.tags = r.tags
        self.fields = {
            k: int(v) if field_kind(k) == "int" else float(v) for k, v in r.fields.items()
        }
