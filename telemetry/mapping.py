"""Mapping of readings to InfluxDB points, and the line-protocol encoder.

One reading becomes one point:

    measurement = reading.measurement
    tags        = gateway, sensor, and the reading's own tags (lane, direction, vehicle_class)
    fields      = reading.fields, typed by name (telemetry.units): counts int, all else float
    time        = reading.time, milliseconds since the Unix epoch, UTC

Because the point's identity (measurement, tag set, time) is fully determined by the reading,
a reading delivered twice lands on the same point and is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


_MEAS_ESC = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\", "\n": r"\n"})
_TAG_ESC = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\\": "\\\\", "\n": r"\n"})


def _field_value(value: float | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def to_line(point: Point) -> str:
    """One point in InfluxDB line protocol with millisecond precision (``precision=ms``)."""
    parts = [point.measurement.translate(_MEAS_ESC)]
    for key in sorted(point.tags):
        value = point.tags[key]
        if value == "":
            continue  # InfluxDB refuses empty tag values; an empty tag is the same as none
        parts.append(f",{key.translate(_TAG_ESC)}={value.translate(_TAG_ESC)}")
    fields = ",".join(
        f"{key.translate(_TAG_ESC)}={_field_value(value)}" for key, value in point.fields.items()
    )
    return f"{''.join(parts)} {fields} {point.time_ms}"


def to_lines(points: Iterable[Point]) -> bytes:
    return "\n".join(to_line(p) for p in points).encode()


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


def status_point(gateway: str, state: str, time_ms: int) -> Point:
    return Point(STATUS_MEASUREMENT, {"gateway": gateway}, {"state": state}, time_ms)
