"""Mapping of readings to InfluxDB points, and the line-protocol encoder.

One reading becomes one point:

    measurement = reading.measurement
    tags        = gateway, sensor, and the reading's own tags (lane, direction, vehicle_class)
    fields      = reading.fields, typed by name (telemetry.units): counts int, all else float
    time        = reading.time, milliseconds since the Unix epoch, UTC

Because the point's identity (measurement, tag set, time) is fully determined by the reading,
a reading delivered twice lands on the same point and is stored once.

Line protocol escaping follows what InfluxDB 1.x actually parses (checked against influxd
1.6.7 by tests/test_line_protocol.py): in measurements ``,`` and space are escaped, in tag
keys, tag values and field keys ``,``, ``=`` and space. 1.x unescapes backslashes (and a
backslash before a double quote) differently in each of these places, so a name containing a
backslash is refused with a :class:`ValueError`, as is a name with a control character
(newline, tab), an empty name and a measurement starting with ``#`` (a comment line). String
field values escape ``\\`` and ``"`` and may hold any text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pydantic_core import to_json

from telemetry.models import Batch
from telemetry.units import field_kind


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | int | str]
    time_ms: int


def batch_to_points(batch: Batch) -> list[Point]:
    points = []
    for r in batch.readings:
        tags = {"gateway": batch.gateway, "sensor": r.sensor, **r.tags}
        fields: dict[str, float | int | str] = {
            name: (int(value) if field_kind(name) == "int" else float(value))
            for name, value in r.fields.items()
        }
        points.append(Point(r.measurement, tags, fields, r.time))
    return points


# -- escaping ---------------------------------------------------------------------------------

_MEAS_ESC = str.maketrans({",": r"\,", " ": r"\ "})
_TAG_ESC = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})
# Control characters (InfluxDB strips or splits on tabs and line breaks) and backslashes
# (unescaped differently in measurements, tags and field keys) are refused.
_REFUSED = re.compile(r"[\x00-\x1f\x7f\\]")


def _escape(text: str, what: str, table: dict[int, str]) -> str:
    if not text:
        raise ValueError(f"{what} is empty; line protocol cannot carry an empty name")
    bad = _REFUSED.search(text)
    if bad:
        raise ValueError(
            f"{what} {text!r} contains {bad.group()!r}: a name in InfluxDB line protocol may not"
            " hold a control character (newline, tab, ...) or a backslash"
        )
    return text.translate(table)


def escape_measurement(name: str) -> str:
    if name.startswith("#"):
        raise ValueError(f"measurement {name!r}: a line starting with # is a comment")
    return _escape(name, "measurement", _MEAS_ESC)


def escape_key(name: str, what: str = "tag key") -> str:
    """Escape a tag key, tag value or field key."""
    return _escape(name, what, _TAG_ESC)


def _string_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_value(value: float | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field value {value!r}: InfluxDB stores only finite numbers")
        return repr(value)
    return _string_value(value)


@lru_cache(maxsize=65_536)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The escaped ``measurement,k=v,...`` prefix of a series (tags sorted, empty ones left
    out: InfluxDB refuses empty tag values, and an empty tag is the same as none)."""
    parts = [escape_measurement(measurement)]
    for key, value in sorted(tags):
        if value != "":
            parts.append(f",{escape_key(key)}={escape_key(value, 'tag value')}")
    return "".join(parts)


@lru_cache(maxsize=4_096)
def _field_key(name: str) -> str:
    return escape_key(name, "field key") + "="


def to_line(point: Point) -> str:
    """One point in InfluxDB line protocol with millisecond precision (``precision=ms``).
    Raises ValueError for a name or value that line protocol cannot carry."""
    prefix = _series(point.measurement, tuple(point.tags.items()))
    if not point.fields:
        raise ValueError(f"point of {point.measurement!r} has no fields")
    fields = ",".join(_field_key(k) + _field_value(v) for k, v in point.fields.items())
    return f"{prefix} {fields} {int(point.time_ms)}"


def to_lines(points: Iterable[Point]) -> bytes:
    return "\n".join([to_line(p) for p in points]).encode()


class LineEncoder:
    """Readings straight to line protocol, without building :class:`Point` objects: the same
    lines as ``[to_line(p) for p in batch_to_points(batch)]``, several times faster. For each
    series and set of field names, a ``%``-format template (escaped measurement, tags and
    field keys, each field's type) is built once and cached (at most *max_series* templates,
    then the cache starts over).

    The numbers of a whole batch are formatted in one call of pydantic-core's JSON serializer
    (Rust; several times faster than ``repr`` of each float). It writes the same shortest
    round-trip digits as Python's ``repr``, only the notation differs for exponents and for
    magnitudes below 1e-4; a batch holding such a number is formatted with ``repr``."""

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self._templates: dict[tuple, tuple[str, tuple | None]] = {}

    def batch_lines(self, batch: Batch) -> list[str]:
        readings = [
            {"measurement": r.measurement, "sensor": r.sensor, "time": r.time}
            | {"fields": r.fields, "tags": r.tags}
            for r in batch.readings
        ]
        return self.reading_lines(batch.gateway, readings)[0]

    def reading_lines(self, gateway: str, readings: list[dict]) -> tuple[list[str], int]:
        """The lines of a gateway's readings (validated dicts with the keys of
        :class:`~telemetry.models.Reading`; ``tags`` may be missing), and the newest time."""
        templates = self._templates
        fmts: list[str] = []
        values: list = []  # per reading: its converted field values, then its time
        newest = 0
        for r in readings:
            fields = r["fields"]
            tags = r.get("tags")
            measurement = r["measurement"]
            sensor = r["sensor"]
            if tags:
                key: tuple = (gateway, measurement, sensor, tuple(tags.items()), *fields)
            else:
                key = (gateway, measurement, sensor, *fields)
            entry = templates.get(key)
            if entry is None:
                entry = self._template(key, gateway, measurement, sensor, tags, fields)
            fmt, convert = entry
            fmts.append(fmt)
            if convert is None:  # every field a float
                values += map(float, fields.values())
            else:
                values += [c(v) for c, v in zip(convert, fields.values())]  # noqa: B905
            time_ms = r["time"]
            values.append(time_ms)
            if time_ms > newest:
                newest = time_ms
        text = to_json(values).decode()
        if "e" in text or "n" in text or "0.0000" in text:  # not as repr writes it: use repr
            pieces = tuple(map(repr, values))
        else:
            pieces = tuple(text[1:-1].split(","))
        if len(fmts) == 1:
            return [fmts[0] % pieces], newest
        return ("\n".join(fmts) % pieces).split("\n"), newest

    def _template(
        self,
        key: tuple,
        gateway: str,
        measurement: str,
        sensor: str,
        tags: dict | None,
        fields: dict,
    ) -> tuple[str, tuple | None]:
        if len(self._templates) >= self.max_series:
            self._templates.clear()
        tag_items = tags.items() if tags else ()
        prefix = _series(measurement, (("gateway", gateway), ("sensor", sensor), *tag_items))
        kinds = [field_kind(name) == "int" for name in fields]
        values = ",".join(
            _field_key(name).replace("%", "%%") + ("%si" if is_int else "%s")
            for name, is_int in zip(fields, kinds, strict=True)
        )
        fmt = f"{prefix.replace('%', '%%')} {values} %s"
        convert = None if not any(kinds) else tuple(int if k else float for k in kinds)
        entry = (fmt, convert)
        self._templates[key] = entry
        return entry


#: Written by ingest for every batch it accepts: tags gateway; fields seq (int), readings (int);
#: time = the batch's send time. Gives "last seen" per gateway and the data to spot lost or
#: duplicated batches from the sequence numbers.
BATCH_MEASUREMENT = "gateway_batches"
#: Written by ingest for every status message: tags gateway; field state ("online"/"offline");
#: time = the status time, or the receive time for a Last Will (which carries none).
STATUS_MEASUREMENT = "gateway_status"
#: Measurements that describe the pipeline itself rather than the roads.
META_MEASUREMENTS = frozenset({BATCH_MEASUREMENT, STATUS_MEASUREMENT})


def batch_meta_point(batch: Batch) -> Point:
    return Point(
        BATCH_MEASUREMENT,
        {"gateway": batch.gateway},
        {"seq": int(batch.seq), "readings": len(batch.readings)},
        batch.sent,
    )


def batch_meta_line(batch: Batch) -> str:
    """``to_line(batch_meta_point(batch))``, without the Point."""
    return meta_line(batch.gateway, batch.seq, len(batch.readings), batch.sent)


def meta_line(gateway: str, seq: int, readings: int, sent: int) -> str:
    """The ``gateway_batches`` line of a batch, from its parts."""
    prefix = _series(BATCH_MEASUREMENT, (("gateway", gateway),))
    return f"{prefix} seq={int(seq)}i,readings={readings}i {sent}"


def status_point(gateway: str, state: str, time_ms: int) -> Point:
    return Point(STATUS_MEASUREMENT, {"gateway": gateway}, {"state": state}, time_ms)
