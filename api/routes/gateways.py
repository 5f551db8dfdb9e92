"""``GET /gateways``, ``GET /gateways/{gateway}`` and ``GET /gateways/{gateway}/history``:
every gateway seen, with its last batch, its last status (spool, dropped, clock offset) and
its devices' states; and the state changes of one gateway and its devices over a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, TypeAdapter

from api.deps import StoreDep
from api.errors import INVALID_REQUEST, NOT_FOUND, STORE_ERRORS
from api.latest_cache import answer
from api.models import GatewayHistory, GatewayPublic
from api.status import changes, current_devices, gateway_view
from kernel.times import utc_iso, wib_iso
from store import StoreReader
from telemetry.mapping import DEVICE_STATUS_MEASUREMENT, STATUS_MEASUREMENT
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS
from telemetry.topics import ID_PATTERN

router = APIRouter(tags=["gateways"])
#: The list serialised in one step (FastAPI's validation and encoding of 500 gateways' models
#: cost more than reading them: bench/series.py).
_LIST = TypeAdapter(list[GatewayPublic])

#: The longest window one history request may cover, and the default one. A gateway with five
#: devices and a status a minute has 60,480 status points a week: about a second to read and
#: compress into changes (measured on both backends); longer spans are asked week by week.
MAX_WINDOW = timedelta(days=7)
DEFAULT_WINDOW = timedelta(hours=24)
#: Times a window may name: those a status may have (telemetry.models); also keeps the date
#: arithmetic away from year 1 and 9999, where it overflows.
MIN_TIME = datetime.fromtimestamp(MIN_TIME_MS / 1000, UTC)
MAX_TIME = datetime.fromtimestamp(MAX_TIME_MS / 1000, UTC)
TIME_RANGE = "must be from 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z (statuses lie in between)"

GatewayPath = Annotated[
    str,
    Path(
        pattern=f"^{ID_PATTERN}$",
        description="gateway id (lowercase letters, digits, hyphens)",
        examples=["srl-pasar-01"],
    ),
]
_TIME = "ISO 8601 time with a zone: 2025-11-30T08:00:00Z or 2025-11-30T15:00:00+07:00"
StartParam = Annotated[
    AwareDatetime | None,
    Query(
        description=f"start of the window (included), {_TIME}; default: 24 hours before end",
        examples=["2025-11-30T14:00:00+07:00"],
    ),
]
EndParam = Annotated[
    AwareDatetime | None,
    Query(
        description=f"end of the window (excluded), {_TIME}; default: now",
        examples=["2025-11-30T16:00:00+07:00"],
    ),
]


def _gateways(store: StoreReader, gateway: str | None = None) -> list[GatewayPublic]:
    seen = [g for g in store.gateways() if gateway is None or g.gateway == gateway]
    if not seen:
        return []
    statuses = {p.tags.get("gateway"): p for p in store.newest(STATUS_MEASUREMENT, gateway)}
    devices = current_devices(store.newest(DEVICE_STATUS_MEASUREMENT, gateway))
    return [gateway_view(g, statuses.get(g.gateway), devices.get(g.gateway, [])) for g in seen]


def _unknown(gateway: str) -> HTTPException:
    return HTTPException(404, f"gateway {gateway!r} has not been seen (see GET /gateways)")


@router.get(
    "/gateways",
    response_model=list[GatewayPublic],
    summary="Gateways seen, with their devices, spool and clock",
    responses=STORE_ERRORS,
)
def list_gateways(request: Request, store: StoreDep) -> Response:
    """Ordered by gateway id. ``last_seen`` is the send time of the newest batch; ``state``
    and the details (spool, dropped, clock offset) come from the newest status message
    (``offline`` also when the broker published the gateway's Last Will, whose details are
    null); ``devices`` from the newest status that named devices."""
    return answer(request, "gateways", lambda: _LIST.dump_json(_gateways(store)))


@router.get(
    "/gateways/{gateway}",
    response_model=GatewayPublic,
    summary="One gateway, with its devices, spool and clock",
    responses={**NOT_FOUND, **INVALID_REQUEST, **STORE_ERRORS},
)
def get_gateway(gateway: GatewayPath, store: StoreDep) -> GatewayPublic:
    """The entry of ``GET /gateways`` for one gateway; 404 if it has not been seen."""
    found = _gateways(store, gateway)
    if not found:
        raise _unknown(gateway)
    return found[0]


@router.get(
    "/gateways/{gateway}/history",
    response_model=GatewayHistory,
    summary="State changes of a gateway and its devices over a window",
    responses={**NOT_FOUND, **INVALID_REQUEST, **STORE_ERRORS},
)
def gateway_history(
    gateway: GatewayPath, store: StoreDep, start: StartParam = None, end: EndParam = None
) -> GatewayHistory:
    """Every change of the gateway's state (``device`` null: online/offline) and of each
    device's state or stuck fields, oldest first, with start <= time < end. Default: the 24
    hours before ``end``, and ``end`` = now; at most 7 days."""
    for name, given in (("start", start), ("end", end)):
        if given is not None and not MIN_TIME <= given <= MAX_TIME:
            raise _invalid(name, f"{name} {TIME_RANGE}")
    end_dt = end or datetime.now(UTC)
    start_dt = start or end_dt - DEFAULT_WINDOW
    if start_dt >= end_dt:
        raise _invalid("start", "start must be before end")
    if end_dt - start_dt > MAX_WINDOW:
        raise _invalid("start", f"the window may be at most {MAX_WINDOW.days} days")
    if not any(g.gateway == gateway for g in store.gateways()):
        raise _unknown(gateway)
    start_ms, end_ms = int(start_dt.timestamp() * 1000), int(end_dt.timestamp() * 1000)
    points, before = [], []
    for measurement in (STATUS_MEASUREMENT, DEVICE_STATUS_MEASUREMENT):
        points += store.points(measurement, gateway, start_ms, end_ms)
        before += store.newest(measurement, gateway, before_ms=start_ms)
    return GatewayHistory(
        gateway=gateway,
        start=utc_iso(start_ms) or "",
        start_wib=wib_iso(start_ms) or "",
        end=utc_iso(end_ms) or "",
        end_wib=wib_iso(end_ms) or "",
        changes=changes(points, before),
    )


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", name), "msg": message, "type": "value_error", "input": None}]
    )
