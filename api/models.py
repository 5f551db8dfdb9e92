"""Response models of the API (what clients receive; the store's own types stay internal)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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
        description="machine-readable code: invalid_request, store_unavailable, store_error, "
        "internal_error",
        examples=["store_unavailable"],
    )
    message: str = Field(
        description="what went wrong, for people",
        examples=["the influxdb store is unavailable; try again later"],
    )
    detail: list[dict[str, Any]] | None = Field(
        default=None, description="per-parameter validation errors (invalid_request only)"
    )
