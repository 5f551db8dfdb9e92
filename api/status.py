"""Gateways and their devices, from the points ingest writes for every status message.

Pure functions over the store's points (no store, no FastAPI): ``gateway_status`` (state and
the gateway's own details: spool, dropped, clock offset, software version, last update) and
``jagajalan_device_status`` (one point per device per status: state, last error, stuck
fields, error count, firmware); docs/protocol.md section 4. What "the current devices" are:
the devices of the newest status that named any, so a device removed from the gateway's
config drops out. A change is a status whose state
(or set of stuck fields) differs from the one before it, per device and for the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from api.models import DevicePublic, GatewayPublic, StateChange
from api.release_models import UpdateOutcome
from kernel.times import utc_iso, wib_iso
from store.base import GatewaySeen
from telemetry.mapping import STATUS_FIELDS, VERSION_FIELD, Point
from telemetry.update_report import FAILED_RESULTS


def _str(point: Point, name: str) -> str:
    value = point.fields.get(name, "")
    return value if isinstance(value, str) else str(value)


def stuck(point: Point) -> list[str]:
    return [name for name in _str(point, "stuck").split(",") if name]


def device_view(point: Point) -> DevicePublic:
    errors = point.fields.get("errors", 0)
    return DevicePublic(
        device=point.tags.get("device", ""),
        state=_str(point, "state"),
        last_error=_str(point, "last_error") or None,
        stuck=stuck(point),
        errors=int(errors) if isinstance(errors, int | float) else 0,
        firmware=_str(point, "firmware") or None,
        time=utc_iso(point.time_ms) or "",
        time_wib=wib_iso(point.time_ms) or "",
    )


def current_devices(newest: Iterable[Point]) -> dict[str, list[DevicePublic]]:
    """gateway -> its devices as of the newest status that named devices (from the newest
    ``jagajalan_device_status`` point of each device), ordered by device id."""
    by_gateway: dict[str, list[Point]] = {}
    for point in newest:
        by_gateway.setdefault(point.tags.get("gateway", ""), []).append(point)
    out = {}
    for gateway, points in by_gateway.items():
        last = max(p.time_ms for p in points)
        current = sorted((p for p in points if p.time_ms == last), key=lambda p: p.tags["device"])
        out[gateway] = [device_view(p) for p in current]
    return out


def update_view(status: Point | None) -> UpdateOutcome | None:
    """The last software update of a ``gateway_status`` point (its ``update_*`` fields,
    telemetry/update_report.py); None when it carried none."""
    if status is None or not _str(status, "update_result"):
        return None
    result = _str(status, "update_result")
    when = status.fields.get("update_time")
    when_ms = int(when) if isinstance(when, int | float) else None
    return UpdateOutcome(
        version=_str(status, "update_version"),
        result=result,
        failed=result in FAILED_RESULTS,
        reason=_str(status, "update_reason") or None,
        detail=_str(status, "update_detail") or None,
        rollout=_str(status, "update_rollout") or None,
        time=utc_iso(when_ms) if when_ms is not None else None,
        time_wib=wib_iso(when_ms) if when_ms is not None else None,
    )


def gateway_view(
    seen: GatewaySeen, status: Point | None, devices: Sequence[DevicePublic]
) -> GatewayPublic:
    """One gateway: last batch and state (*seen*), the details of its newest status point
    (*status*; null details when it carried none, as a Last Will), and *devices*."""
    details: dict[str, float | int | None] = dict.fromkeys(STATUS_FIELDS)
    if status is not None:
        for name, kind in STATUS_FIELDS.items():
            value = status.fields.get(name)
            details[name] = kind(value) if isinstance(value, int | float) else None
    return GatewayPublic(
        gateway=seen.gateway,
        last_seen=utc_iso(seen.last_seen_ms),
        last_seen_wib=wib_iso(seen.last_seen_ms),
        last_seq=seen.last_seq,
        state=seen.state,
        state_time=utc_iso(seen.state_time_ms),
        state_time_wib=wib_iso(seen.state_time_ms),
        **details,  # type: ignore[arg-type]
        version=(_str(status, VERSION_FIELD) or None) if status is not None else None,
        update=update_view(status),
        devices=list(devices),
        devices_ok=sum(1 for d in devices if d.state == "ok"),
    )


def changes(points: Sequence[Point], before: Sequence[Point]) -> list[StateChange]:
    """The state changes among *points* (``gateway_status`` and ``jagajalan_device_status``
    points of one gateway, any order), oldest first. *before* holds the newest point of each
    series before the window: a series whose first point in the window shows the state it
    already had is no change; one without a point before starts with a change from null."""
    last: dict[str | None, tuple[str, tuple[str, ...]]] = {}
    for point in before:
        last[point.tags.get("device")] = (_str(point, "state"), tuple(stuck(point)))
    out = []
    ordered = sorted(points, key=lambda p: (p.time_ms, p.tags.get("device") or ""))
    for point in ordered:
        device = point.tags.get("device")
        now = (_str(point, "state"), tuple(stuck(point)))
        previous = last.get(device)
        last[device] = now
        if previous == now:
            continue
        out.append(
            StateChange(
                time=utc_iso(point.time_ms) or "",
                time_wib=wib_iso(point.time_ms) or "",
                device=device,
                state=now[0],
                previous=previous[0] if previous else None,
                stuck=list(now[1]),
                last_error=_str(point, "last_error") or None,
            )
        )
    return out
