"""Mapping of readings to InfluxDB points, and the line-protocol encoder.

One reading becomes one point:

    measurement = reading.measurement
    tags        = gateway, sensor, and the reading's own tags (lane, direction, vehicle_class)
    fields      = reading.fields, typed by name (telemetry.units): counts int, all else float
    time        = reading.time, milliseconds since the Unix epoch, UTC

Because the point's identity (measurement, tag set, time) is fully determined by the reading,
a reading delivered twice lands on the same point and is stored once.

Line protocol escaping follows what InfluxDB 1.x actually parses (checked against influxd
1.6.7 by tests/telemetry/test_line_protocol.py): in measurements ``,`` and space are escaped, in tag
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

import msgspec

from telemetry.models import (
    BATCH_MEASUREMENT,
    DERIVED_MEASUREMENTS,
    DEVICE_STATUS_MEASUREMENT,
    MAX_COUNT,
    NAME_PATTERN,
    PIPELINE_MEASUREMENTS,
    REFERENCE_MEASUREMENTS,
    STATUS_MEASUREMENT,
    Batch,
    Status,
)
from telemetry.units import field_kind
from telemetry.update_report import update_fields


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
        return format_float(value)
    return _string_value(value)


def format_float(value: float) -> str:
    """A finite float as line protocol writes it: the shortest digits that read back as the
    same float (as ``repr``), in JSON's notation (``1e16``, not ``1e+16``), which InfluxDB
    parses too. The same as the batch formatting in :class:`LineEncoder`."""
    return _JSON.encode(value).decode()


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


_JSON = msgspec.json.Encoder()
_NAME_RE = re.compile(NAME_PATTERN)


# BATCH_MEASUREMENT (gateway_batches) is written by ingest for every batch it accepts: tags
# gateway; fields seq (int), readings (int); time = the batch's send time. Gives "last seen"
# per gateway and the data to spot lost or duplicated batches from the sequence numbers.
# STATUS_MEASUREMENT (gateway_status) is written by ingest for every status message: tags
# gateway; field state ("online"/"offline") and the gateway's own details when the status
# carries them (STATUS_FIELDS); time = the status time, or the receive time for a Last Will
# (which carries none). DEVICE_STATUS_MEASUREMENT (jagajalan_device_status): one point per
# device of the status, same time (DEVICE_FIELDS). All are defined, and reserved, in
# telemetry.models; docs/protocol.md section 4 is the reference.
#: Measurements that are not gateway readings: the pipeline's own and the indicators derived
#: from the readings (telemetry.models.DERIVED_MEASUREMENTS). The store's ``latest()``, and so
#: ``/readings/latest``, leaves them out.
META_MEASUREMENTS = (
    frozenset(PIPELINE_MEASUREMENTS)
    | frozenset(DERIVED_MEASUREMENTS)
    | frozenset(REFERENCE_MEASUREMENTS)
)


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
    return f"{meta_prefix(gateway)}seq={int(seq)}i,readings={readings}i {sent}"


def meta_prefix(gateway: str) -> str:
    """What the ``gateway_batches`` line of *gateway*'s batches starts with, up to its fields."""
    return _series(BATCH_MEASUREMENT, (("gateway", gateway),)) + " "


def status_point(
    gateway: str, state: str, time_ms: int, details: dict[str, float | int | str] | None = None
) -> Point:
    return Point(
        STATUS_MEASUREMENT, {"gateway": gateway}, {"state": state, **(details or {})}, time_ms
    )


#: gateway_status fields besides ``state``, from the status keys of the same names, each
#: written only when the status carries it: name -> InfluxDB type (a type never changes).
STATUS_FIELDS = {
    "spool_depth": int,
    "spool_oldest_age": float,
    "dropped": int,
    "spool_errors": int,
    "clock_offset": float,
}
#: The gateway's software version, a gateway_status string field written only when the status
#: carries one (a Last Will does not), at most MAX_VERSION_TEXT characters.
VERSION_FIELD = "version"
#: jagajalan_device_status fields: ``state`` (a device state), ``last_error`` (the device's
#: last problem while it is not ok, else ""), ``stuck`` (the fields frozen for the device's
#: ``stuck_after``, comma-separated, else ""), ``errors`` (its error events since the gateway
#: started, all kinds summed), ``firmware`` (the device's firmware version as its driver
#: reports it, ``firmware.<device>`` of the status, else ""). Every field in every point, so
#: the newest point is complete.
DEVICE_FIELDS = {"state": str, "last_error": str, "stuck": str, "errors": int, "firmware": str}
#: Longest last_error text stored (the gateway sends at most 200 characters).
MAX_ERROR_TEXT = 500
#: Longest software or firmware version stored.
MAX_VERSION_TEXT = 64


def status_points(status: Status, time_ms: int) -> list[Point]:
    """The points of one status message: its ``gateway_status`` point (state and the
    gateway's details), then one ``jagajalan_device_status`` point per device."""
    details: dict[str, float | int | str] = {
        name: kind(value)
        for name, kind in STATUS_FIELDS.items()
        if (value := getattr(status, name)) is not None
    }
    if status.version:
        details[VERSION_FIELD] = status.version[:MAX_VERSION_TEXT]
    details.update(update_fields(status.model_extra))  # the last update (update_report.py)
    points = [status_point(status.gateway, status.state, time_ms, details)]
    firmware = firmware_versions(status)
    errors = status.errors or {}
    last_error = status.last_error or {}
    for device, state in status.devices.items():
        text = "" if state == "ok" else last_error.get(device, "")
        fields: dict[str, float | int | str] = {
            "state": state,
            "last_error": text[:MAX_ERROR_TEXT],
            "stuck": ",".join(stuck_fields(status, device)),
            "errors": min(sum(errors.get(device, {}).values()), MAX_COUNT),
            "firmware": firmware.get(device, ""),
        }
        tags = {"gateway": status.gateway, "device": device}
        points.append(Point(DEVICE_STATUS_MEASUREMENT, tags, fields, time_ms))
    return points


def firmware_versions(status: Status) -> dict[str, str]:
    """Device id -> firmware version from the status's ``firmware`` (free-form, like ``info``:
    a gateway older than this field sends none; values that are not text or a number are
    ignored, never refused), each at most MAX_VERSION_TEXT characters."""
    given = (status.model_extra or {}).get("firmware")
    if not isinstance(given, dict):
        return {}
    return {
        str(device): str(version).strip()[:MAX_VERSION_TEXT]
        for device, version in given.items()
        if isinstance(version, str | int | float) and not isinstance(version, bool)
    }


def stuck_fields(status: Status, device: str) -> list[str]:
    """The field names the gateway reports frozen for *device* (``info.<device>.stuck``),
    sorted; what is not a list of field names is ignored (``info`` is free-form)."""
    info = (status.model_extra or {}).get("info")
    entry = info.get(device) if isinstance(info, dict) else None
    stuck = entry.get("stuck") if isinstance(entry, dict) else None
    if not isinstance(stuck, list):
        return []
    return sorted({n for n in stuck if isinstance(n, str) and _NAME_RE.fullmatch(n)})
