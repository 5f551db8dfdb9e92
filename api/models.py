"""Response models of the API (what clients receive; the store's own types stay internal)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.release_models import UpdateOutcome

_UTC = "ISO 8601 time in UTC with a Z suffix, millisecond precision"
_WIB = "the same instant in WIB (Asia/Jakarta, +07:00), for people"


class StoreHealth(BaseModel):
    ok: bool = Field(description="the store answered a ping")
    backend: Literal["influxdb", "sqlite"]
    problem: str | None = Field(
        default=None,
        description="why the API cannot read the store although it answers (database "
        "missing, login refused, READ privilege missing); null when it can",
        examples=[None],
    )


class BrokerHealth(BaseModel):
    ok: bool | None = Field(
        description="the MQTT broker answered a CONNECT; null when no broker is configured"
    )


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description='"ok" when the store answers and may be read, and the broker (if '
        "configured) answers"
    )
    store: StoreHealth
    broker: BrokerHealth

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "ok",
                    "store": {"ok": True, "backend": "influxdb", "problem": None},
                    "broker": {"ok": True},
                }
            ]
        }
    }


class DevicePublic(BaseModel):
    device: str = Field(description="device id (the `sensor` of its readings)", examples=["wl1"])
    state: str = Field(
        description="ok, starting, timeout (no answer), crc_error, decode_error, unplugged or "
        "error (docs/api.md)",
        examples=["unplugged"],
    )
    last_error: str | None = Field(
        description="the device's last problem as the gateway saw it; null when it is ok",
        examples=["/dev/ttyUSB3: gone"],
    )
    stuck: list[str] = Field(
        description="fields whose value has not changed for the device's stuck_after "
        "seconds (a frozen sensor), [] when none",
        examples=[["level"]],
    )
    errors: int = Field(
        description="error events of this device since the gateway started, all kinds",
        examples=[3],
    )
    firmware: str | None = Field(
        description="the device's firmware version as its driver reported it; null when the "
        "driver knows none (or the gateway is older than this field)",
        examples=["2.07"],
    )
    time: str = Field(
        description=f"time of the status that reported this; {_UTC}",
        examples=["2025-11-30T08:01:00.000Z"],
    )
    time_wib: str = Field(description=_WIB, examples=["2025-11-30T15:01:00.000+07:00"])


class GatewayPublic(BaseModel):
    gateway: str = Field(description="gateway id", examples=["srl-pasar-01"])
    last_seen: str | None = Field(
        description=f"send time of the newest batch received; {_UTC}",
        examples=["2025-11-30T08:00:05.123Z"],
    )
    last_seen_wib: str | None = Field(description=_WIB, examples=["2025-11-30T15:00:05.123+07:00"])
    last_seq: int | None = Field(description="sequence number of that batch", examples=[1842])
    state: str | None = Field(
        description='"online" or "offline", from the newest status message', examples=["online"]
    )
    state_time: str | None = Field(
        description=f"time of that status message; {_UTC}",
        examples=["2025-11-30T08:00:00.000Z"],
    )
    state_time_wib: str | None = Field(description=_WIB, examples=["2025-11-30T15:00:00.000+07:00"])
    spool_depth: int | None = Field(
        description="readings waiting on the gateway's disk, from the newest status; null when "
        "that status carried none (a Last Will)",
        examples=[0],
    )
    spool_oldest_age: float | None = Field(
        description="seconds the oldest waiting reading had waited (0 when none)", examples=[0.0]
    )
    dropped: int | None = Field(
        description="readings the gateway's full spool dropped since the spool was created",
        examples=[0],
    )
    spool_errors: int | None = Field(
        description="readings the spool could not store (disk full), since the gateway started",
        examples=[0],
    )
    clock_offset: float | None = Field(
        description="seconds, gateway clock minus GPS time; null without a GPS reporting it",
        examples=[-0.4],
    )
    version: str | None = Field(
        description="the gateway's software version, from the newest status; null when that "
        "status carried none (a Last Will)",
        examples=["0.1.0"],
    )
    update: UpdateOutcome | None = Field(
        description="how its last software update ended, from the newest status; null when "
        "that status carried none (no update yet, a Last Will)"
    )
    devices: list[DevicePublic] = Field(
        description="the devices of the newest status that named devices, by device id"
    )
    devices_ok: int = Field(description="how many of them are ok", examples=[3])


class StateChange(BaseModel):
    time: str = Field(
        description=f"time of the first status that showed this state; {_UTC}",
        examples=["2025-11-30T08:01:00.000Z"],
    )
    time_wib: str = Field(description=_WIB, examples=["2025-11-30T15:01:00.000+07:00"])
    device: str | None = Field(
        description="the device, or null for the gateway itself (online/offline)",
        examples=["wl1"],
    )
    state: str = Field(description="the new state", examples=["unplugged"])
    previous: str | None = Field(
        description="the state before (also from before start); null when not known",
        examples=["ok"],
    )
    stuck: list[str] = Field(
        description="fields frozen at that time (a change of these is a change too)",
        examples=[[]],
    )
    last_error: str | None = Field(
        description="the device's last problem at that time; null when none",
        examples=["/dev/ttyUSB3: gone"],
    )


class GatewayHistory(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    start: str = Field(
        description=f"start of the window (included); {_UTC}", examples=["2025-11-29T08:00:00.000Z"]
    )
    start_wib: str = Field(description=_WIB, examples=["2025-11-29T15:00:00.000+07:00"])
    end: str = Field(
        description=f"end of the window (excluded); {_UTC}", examples=["2025-11-30T08:00:00.000Z"]
    )
    end_wib: str = Field(description=_WIB, examples=["2025-11-30T15:00:00.000+07:00"])
    changes: list[StateChange] = Field(description="oldest first")


class IndexLink(BaseModel):
    path: str = Field(examples=["/gateways"])
    href: str = Field(description="absolute URL", examples=["http://127.0.0.1:8000/gateways"])
    summary: str = Field(examples=["Gateways and their devices"])


class ApiIndex(BaseModel):
    name: str = Field(examples=["JagaJalan API"])
    version: str = Field(examples=["0.1.0"])
    docs: str = Field(
        description="Swagger UI (absolute URL)", examples=["http://127.0.0.1:8000/docs"]
    )
    openapi: str = Field(
        description="the OpenAPI document (absolute URL)",
        examples=["http://127.0.0.1:8000/openapi.json"],
    )
    endpoints: list[IndexLink]


class LatestReading(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    sensor: str = Field(examples=["cnt1"])
    measurement: str = Field(examples=["traffic"])
    tags: dict[str, str] = Field(
        description="the reading's own tags (lane, direction, vehicle_class)",
        examples=[{"lane": "1"}],
    )
    field: str = Field(examples=["count"])
    value: int | float | str = Field(
        description="integer for counts, float otherwise", examples=[37]
    )
    unit: str | None = Field(
        description="unit of the field (docs/protocol.md 2.2), null if unknown",
        examples=["vehicles"],
    )
    time: str = Field(
        description=f"time of this value; {_UTC}", examples=["2025-11-30T07:59:00.000Z"]
    )
    time_wib: str = Field(description=_WIB, examples=["2025-11-30T14:59:00.000+07:00"])


class ErrorResponse(BaseModel):
    error: str = Field(
        description="machine-readable code: invalid_request, invalid_parameter, not_found, "
        "method_not_allowed, store_unavailable, store_error, internal_error, unauthorized, "
        "invalid_key, forbidden, rate_limited, registry_unavailable, conflict",
        examples=["store_unavailable"],
    )
    message: str = Field(
        description="what went wrong, for people",
        examples=["the influxdb store is unavailable; try again later"],
    )
    detail: list[dict[str, Any]] | None = Field(
        default=None, description="per-parameter errors (invalid_request, invalid_parameter)"
    )
