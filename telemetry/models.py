"""Payload models of the telemetry contract, version 1 (see docs/protocol.md).

A model accepts exactly what the contract allows: besides the shapes, types and ranges, a
batch or status never names a reserved gateway id (:func:`telemetry.topics.reserved_id`,
error type ``reserved_id``) and a reading never names a measurement that JagaJalan writes
itself (:func:`reserved_measurement`, error type ``reserved_measurement``); the codec turns
those error types into its rejection reasons of the same names.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
)
from pydantic_core import PydanticCustomError

from telemetry.topics import ID_PATTERN, RESERVED_ID, reserved_id, reserved_reason

PAYLOAD_VERSION = 1
#: Payload version 2 is the compact binary encoding of the same batch (telemetry/compact.py):
#: it changes the bytes on the wire, not the model, so a decoded batch still has ``v == 1``.
COMPACT_PAYLOAD_VERSION = 2

#: Plausible reading and send times (ms since the Unix epoch, UTC): from 2000-01-01 (included)
#: to 2100-01-01 (excluded), so MIN_TIME_MS <= time < MAX_TIME_MS (:func:`valid_time`). A
#: gateway whose clock is unset (1970) produces readings outside this range, which are
#: refused instead of landing decades away from the dashboards.
MIN_TIME_MS = 946_684_800_000
MAX_TIME_MS = 4_102_444_800_000

#: Tag keys a reading may carry besides the gateway and sensor ids. Tags are indexed by
#: InfluxDB, so only low-cardinality values belong here (never times, sequence numbers or text).
READING_TAGS = ("lane", "direction", "vehicle_class")

#: Measurement and field names; tag values (readings' own tags). Gateway and sensor ids are
#: ``telemetry.topics.ID_PATTERN``.
NAME_PATTERN = r"[a-z][a-z0-9_]{0,63}"
TAG_VALUE_PATTERN = r"[A-Za-z0-9_.-]{1,32}"

#: Measurements JagaJalan's own services write, with field types of their own (not typed by
#: name as readings' fields are: telemetry.units). Ingest writes ``gateway_batches`` for every
#: batch (fields seq, readings: integers) and ``gateway_status`` for every status (field
#: state: a string); see telemetry.mapping. A gateway may not write them: one float ``seq`` or
#: ``state`` landing first in a new shard would make every gateway's points of that
#: measurement fail there with a field type conflict.
BATCH_MEASUREMENT = "gateway_batches"
STATUS_MEASUREMENT = "gateway_status"
#: One point per device per status message (tags gateway, device; fields state, last_error,
#: stuck, errors): the devices' state over time (telemetry.mapping.status_points).
DEVICE_STATUS_MEASUREMENT = "jagajalan_device_status"
PIPELINE_MEASUREMENTS = (BATCH_MEASUREMENT, STATUS_MEASUREMENT, DEVICE_STATUS_MEASUREMENT)
#: One point per gateway with a site (tags kecamatan, site, gateway; fields name, latitude,
#: longitude): the registry's sites copied into InfluxDB by ``jagajalan dashboards sites``,
#: so Grafana's template variables and site map can read them (dashboards/sites.py). Reserved
#: by the prefix and, like the pipeline's measurements, not a reading.
SITE_MEASUREMENT = "jagajalan_site"
#: One point per alert severity (tag severity; fields firing, acknowledged, active: integers)
#: after every evaluation of the acting alerts service: the registry's open alerts counted
#: for Grafana (alerts/gauge.py). Like the sites' copy, registry facts copied into InfluxDB.
ALERTS_ACTIVE_MEASUREMENT = "jagajalan_alerts_active"
REFERENCE_MEASUREMENTS = (SITE_MEASUREMENT, ALERTS_ACTIVE_MEASUREMENT)
#: What the indicators job (indicators/) derives from the readings and writes back
#: (docs/protocol.md 4.1): reserved by the prefix like every service's measurement, and, like
#: the pipeline measurements, not readings (the store's ``latest()`` leaves both out).
ISPU_HOURLY_MEASUREMENT = "jagajalan_ispu_hourly"
TRAFFIC_INDICATOR_MEASUREMENT = "jagajalan_traffic"
FLOOD_STATUS_MEASUREMENT = "jagajalan_flood_status"
DERIVED_MEASUREMENTS = (
    ISPU_HOURLY_MEASUREMENT,
    TRAFFIC_INDICATOR_MEASUREMENT,
    FLOOD_STATUS_MEASUREMENT,
)
#: Every measurement a JagaJalan service writes from now on is named with this prefix (and
#: listed in PIPELINE_MEASUREMENTS, or in DERIVED_MEASUREMENTS for what is computed from the
#: readings). The prefix is reserved already, so no gateway can have
#: written such a measurement before the service that owns it exists.
PIPELINE_PREFIX = "jagajalan_"
#: The reason (and pydantic error type) of a reading whose measurement is reserved.
RESERVED_MEASUREMENT = "reserved_measurement"


def reserved_measurement(name: str) -> bool:
    """True if gateways may not write the measurement *name* (a pipeline measurement)."""
    return name in PIPELINE_MEASUREMENTS or name.startswith(PIPELINE_PREFIX)


def valid_time(ms: int) -> bool:
    """True if *ms* is a time the contract accepts (2000-01-01 <= time < 2100-01-01)."""
    return MIN_TIME_MS <= ms < MAX_TIME_MS


def _not_reserved_measurement(name: str) -> str:
    if reserved_measurement(name):
        raise PydanticCustomError(
            RESERVED_MEASUREMENT,
            f"measurement {name!r} is reserved: JagaJalan writes it itself"
            f" ({', '.join(PIPELINE_MEASUREMENTS)} and names starting with {PIPELINE_PREFIX})",
        )
    return name


def _not_reserved_id(gateway: str) -> str:
    if reserved_id(gateway):
        raise PydanticCustomError(RESERVED_ID, f"gateway id {reserved_reason(gateway)}")
    return gateway


Id = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
GatewayId = Annotated[Id, AfterValidator(_not_reserved_id)]
Name = Annotated[str, Field(pattern=f"^{NAME_PATTERN}$")]
Measurement = Annotated[Name, AfterValidator(_not_reserved_measurement)]
TagValue = Annotated[str, Field(pattern=f"^{TAG_VALUE_PATTERN}$")]
TimeMs = Annotated[int, Field(ge=MIN_TIME_MS, lt=MAX_TIME_MS, strict=True)]
Number = StrictInt | StrictFloat


class Reading(BaseModel):
    """One observation of one sensor at one instant: several numeric fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: Id
    measurement: Measurement
    time: TimeMs
    fields: dict[Name, Number] = Field(min_length=1, max_length=64)
    tags: dict[str, TagValue] = Field(default_factory=dict, exclude_if=lambda tags: not tags)

    @field_validator("fields")
    @classmethod
    def _finite(cls, value: dict[str, float | int]) -> dict[str, float | int]:
        for name, number in value.items():
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(f"field {name!r} is {number}, only finite numbers are allowed")
        return value

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(READING_TAGS))
        if unknown:
            raise ValueError(f"unknown tag key(s) {unknown}; allowed: {list(READING_TAGS)}")
        return value


class Batch(BaseModel):
    """What a gateway publishes on its readings topic.

    ``seq`` grows by one with every batch a gateway publishes and never goes back (it is kept
    on disk across restarts), so a receiver can detect lost and duplicated batches.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = PAYLOAD_VERSION
    gateway: GatewayId
    seq: Annotated[int, Field(ge=0, strict=True)]
    sent: TimeMs
    readings: list[Reading] = Field(min_length=1, max_length=10_000)


DeviceState = Literal[
    "ok", "starting", "timeout", "crc_error", "decode_error", "unplugged", "error"
]


#: Most devices one status may name (a gateway has a handful; this only bounds a payload).
MAX_STATUS_DEVICES = 256
#: A count in a status (readings, error events): an integer InfluxDB stores exactly.
MAX_COUNT = 2**53
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]


class Status(BaseModel):
    """Retained gateway status. The Last Will carries ``state="offline"`` and no time.

    The details the gateway adds (docs/protocol.md section 3) are typed when ingest stores
    them (spool, dropped, clock offset, per-device last errors and error counts); other keys
    (``info``, ``firmware``, ``position``, ...) are allowed as they come."""

    model_config = ConfigDict(extra="allow", frozen=True)

    v: Literal[1] = PAYLOAD_VERSION
    gateway: GatewayId
    state: Literal["online", "offline"]
    time: TimeMs | None = None
    version: str | None = None
    uptime: float | None = None
    devices: dict[Id, DeviceState] = Field(default_factory=dict, max_length=MAX_STATUS_DEVICES)
    spool_depth: Count | None = None
    spool_oldest_age: Annotated[FiniteFloat, Field(ge=0)] | None = None
    dropped: Count | None = None
    spool_errors: Count | None = None
    clock_offset: FiniteFloat | None = None
    errors: dict[Id, dict[Name, Count]] | None = Field(default=None, max_length=MAX_STATUS_DEVICES)
    last_error: dict[Id, str] | None = Field(default=None, max_length=MAX_STATUS_DEVICES)
