"""What the updater talks to besides the disk: the bundle verifier, the gateway's service and
its health check. Each is an interface here, so the real pieces plug in (the signed bundle's
``verify_bundle``, systemd, the gateway's health file) and tests can use their own.

Health check: the gateway's local health file (:mod:`kernel.alive`), not the broker. Why: the
same update must be judged at a roadside cabinet with no signal (the USB stick), where no
broker can be reached; the file needs no second MQTT client, credentials or ACL on the gateway;
and it still says whether the new gateway *connected and published*: the gateway writes phase
``published`` only after the broker acknowledged its ``online`` status. A check can demand
``published`` (the default when the network is up) or accept ``running`` (drivers and spool
started: what can be checked offline). The server side sees the same thing on the broker: the
retained status carries the version (docs/protocol.md).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from kernel.alive import read_alive
from kernel.process import pid_alive

log = logging.getLogger(__name__)

Require = Literal["running", "published"]


class VerifiedLike(Protocol):
    """What a bundle verifier returns (firmware_tools.bundle's ``VerifiedBundle``)."""

    manifest: Any  # has ``version`` (attribute or key)
    image: bytes


#: Checks a bundle file (signature, target, expiry, anti-rollback) and returns it, or raises.
Verifier = Callable[[Path], VerifiedLike]


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    key: str  # message key (kernel/messages/update.toml)
    detail: str = ""


class HealthCheck(Protocol):
    def wait(self, version: str, since: float) -> HealthResult: ...


class Service(Protocol):
    def restart(self) -> None: ...


class SystemdService:
    """The gateway as systemd runs it (deploy/systemd/jagajalan-gateway.service)."""

    def __init__(self, unit: str = "jagajalan-gateway.service") -> None:
        self.unit = unit

    def restart(self) -> None:
        # A failed restart is not an error here: the health check then fails and rolls back.
        try:
            subprocess.run(["systemctl", "restart", self.unit], check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("could not restart %s: %s", self.unit, exc)


class HealthFile:
    """Healthy when the health file says *version*, started after *since*, reached *require*."""

    def __init__(
        self,
        path: Path,
        *,
        require: Require = "published",
        timeout: float = 120.0,
        poll: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.require = require
        self.timeout = timeout
        self.poll = poll
        self.clock = clock

    def judge(self, record: dict[str, Any] | None, version: str, since: float) -> HealthResult:
        if record is None:
            return HealthResult(False, "health.no_file", str(self.path))
        seen = str(record.get("version"))
        started = record.get("started")
        if seen != version or not isinstance(started, int | float) or started < since:
            return HealthResult(False, "health.not_started", seen)
        if not pid_alive(record.get("pid")):
            return HealthResult(False, "health.exited", seen)
        phase = record.get("phase")
        wanted = ("published",) if self.require == "published" else ("running", "published")
        if phase not in wanted:
            return HealthResult(False, "health.not_published", str(phase))
        return HealthResult(True, f"health.ok_{phase}", seen)

    def wait(self, version: str, since: float) -> HealthResult:
        deadline = time.monotonic() + self.timeout
        while True:
            result = self.judge(read_alive(self.path), version, since)
            if result.ok or time.monotonic() >= deadline:
                return result
            time.sleep(self.poll)
