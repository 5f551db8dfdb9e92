"""``GET /readings/latest``: the newest value of every field of every sensor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from api.deps import StoreDep
from api.errors import INVALID_REQUEST, STORE_ERRORS
from api.latest_cache import answer
from api.models import LatestReading
from kernel.times import utc_iso, wib_iso
from telemetry.topics import ID_PATTERN
from telemetry.units import FIELDS

#: Same rule as a reading's measurement name (telemetry.models.Name).
MEASUREMENT_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

router = APIRouter(prefix="/readings", tags=["readings"])
#: Serialises the answer in one step: FastAPI's own validation and encoding of the returned
#: models took longer than reading them from InfluxDB (about 40 ms for 500 gateways' 2,000
#: values, measured by bench/series.py).
_ANSWER = TypeAdapter(list[LatestReading])

GatewayParam = Annotated[
    str | None,
    Query(
        pattern=f"^{ID_PATTERN}$",
        description="only this gateway (lowercase letters, digits, hyphens)",
        examples=["srl-pasar-01"],
    ),
]
MeasurementParam = Annotated[
    str | None,
    Query(
        pattern=MEASUREMENT_PATTERN,
        description="only this measurement, e.g. air_quality, traffic, weather",
        examples=["traffic"],
    ),
]


@router.get(
    "/latest",
    response_model=list[LatestReading],
    summary="Latest value of each field per sensor",
    responses={**INVALID_REQUEST, **STORE_ERRORS},
)
def latest_readings(
    request: Request,
    store: StoreDep,
    gateway: GatewayParam = None,
    measurement: MeasurementParam = None,
) -> Response:
    """One entry per (gateway, sensor, measurement, tags, field), each with its own time:
    a field that was not in the newest reading (e.g. ``speed_mean`` of an interval without
    vehicles) shows its last known value and when that was. Pipeline measurements
    (gateway_batches, gateway_status, jagajalan_device_status) are not readings and are
    left out."""
    return answer(
        request, ("readings", gateway, measurement), lambda: _build(store, gateway, measurement)
    )


def _build(store: StoreDep, gateway: str | None, measurement: str | None) -> bytes:
    out = []
    times: dict[int, tuple[str, str]] = {}  # the fields of a reading share its time
    for v in store.latest(gateway=gateway, measurement=measurement):
        spec = FIELDS.get(v.field)
        if v.time_ms not in times:
            times[v.time_ms] = (utc_iso(v.time_ms) or "", wib_iso(v.time_ms) or "")
        out.append(
            LatestReading(
                gateway=v.gateway,
                sensor=v.sensor,
                measurement=v.measurement,
                tags=v.tags,
                field=v.field,
                value=v.value,
                unit=spec.unit if spec else None,
                time=times[v.time_ms][0],
                time_wib=times[v.time_ms][1],
            )
        )
    return _ANSWER.dump_json(out)
