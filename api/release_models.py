"""Response models of ``GET /releases`` and of a gateway's last software update (also in
``GET /gateways``): desired gateway releases per group, desired node firmware per sensor
profile, and what is behind them."""

from __future__ import annotations

from pydantic import BaseModel, Field

_UTC = "ISO 8601 time in UTC with a Z suffix, millisecond precision"
_WIB = "the same instant in WIB (Asia/Jakarta, +07:00), for people"


class UpdateOutcome(BaseModel):
    version: str = Field(
        description='the release the update tried, or the refused command named ("" when it '
        "named none that could be read)",
        examples=["0.2.0"],
    )
    result: str = Field(
        description="committed, rolled_back (failed its health check), aborted (not "
        "downloaded or not installed), refused (a check refused the command or bundle: "
        "signature, gateway, expired, SHA-256), kept_unhealthy (a first release failed its "
        "check with nothing to go back to)",
        examples=["rolled_back"],
    )
    failed: bool = Field(description="result is not committed", examples=[True])
    reason: str | None = Field(
        description="message key of the reason (kernel/messages/update.toml); null when none",
        examples=["health.not_published"],
    )
    detail: str | None = Field(
        description="the failed check's own words; null when none",
        examples=["no published status within 120 s"],
    )
    rollout: str | None = Field(
        description="the rollout whose command it was; null for a USB stick or when unknown",
        examples=["0.2.0-20261206T0800Z"],
    )
    time: str | None = Field(
        description=f"when the updater finished; {_UTC}; null when the gateway did not say",
        examples=["2026-12-06T08:05:00.000Z"],
    )
    time_wib: str | None = Field(description=_WIB, examples=["2026-12-06T15:05:00.000+07:00"])


class ReleaseGroup(BaseModel):
    group: str = Field(description="a kecamatan, or pilot", examples=["Sarolangun"])
    version: str = Field(description="the gateway release it should run", examples=["0.2.0"])
    counter: int = Field(description="that bundle's anti-rollback counter", examples=[7])
    rollout: str = Field(description="the rollout that set it", examples=["0.2.0-20261206T0800Z"])
    set_at: str = Field(
        description=f"when it was set; {_UTC}", examples=["2026-12-06T08:00:00.000Z"]
    )
    gateways: int = Field(description="gateways in the group", examples=[4])
    behind: int = Field(description="of them, not reporting the version", examples=[1])
    failed: int = Field(
        description="of those behind, the ones whose last update to the version failed",
        examples=[1],
    )


class GatewayBehind(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    group: str = Field(examples=["Sarolangun"])
    desired: str = Field(description="the version its group should run", examples=["0.2.0"])
    version: str | None = Field(
        description="the version its newest status reports; null when never seen or when that "
        "status carried none (a Last Will)",
        examples=["0.1.0"],
    )
    state: str | None = Field(
        description='"online" or "offline" from its newest status; null when never seen',
        examples=["online"],
    )
    update: UpdateOutcome | None = Field(
        description="how its last software update ended (a failed one says why); null when "
        "its newest status carried none"
    )


class FirmwareRelease(BaseModel):
    profile: str = Field(description="a sensor profile", examples=["level-ultrasonic-generic"])
    version: str = Field(description="the firmware its nodes should run", examples=["WL-2.08"])
    set_at: str = Field(
        description=f"when it was set; {_UTC}", examples=["2026-12-06T08:00:00.000Z"]
    )
    nodes: int = Field(description="registered sensors of the profile", examples=[3])
    behind: int = Field(description="of them, not reporting the version", examples=[1])


class NodeBehind(BaseModel):
    gateway: str = Field(examples=["srl-pasar-01"])
    device: str = Field(description="the sensor (device) id", examples=["wl1"])
    profile: str = Field(examples=["level-ultrasonic-generic"])
    desired: str = Field(description="the firmware its profile should run", examples=["WL-2.08"])
    firmware: str | None = Field(
        description="the firmware its gateway's newest status reports for it; null when none "
        "was reported (never seen, or a driver that does not read it)",
        examples=["WL-2.07"],
    )
    state: str | None = Field(
        description="its device state from that status; null when never seen", examples=["ok"]
    )


class Releases(BaseModel):
    groups: list[ReleaseGroup] = Field(description="by group name")
    behind: list[GatewayBehind] = Field(description="by gateway id")
    firmware: list[FirmwareRelease] = Field(description="desired node firmware, by profile")
    nodes_behind: list[NodeBehind] = Field(description="by gateway id, then device id")
