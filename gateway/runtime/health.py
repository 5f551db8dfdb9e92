"""Gateway health: the retained status message and the periodic ``gateway_health`` reading.

Both are built from one snapshot of the drivers (state, error counts, last error, ``.info``)
and of the spool. The pure functions (:func:`status_details`, :func:`health_fields`) take
plain values; :class:`Health` gathers them from the live objects.

Status (retained, ``jagajalan/v1/<gateway>/status``), besides the protocol's ``v``,
``gateway``, ``state``, ``time``, ``version`` (the installed package's version:
:func:`kernel.version.installed_version`), ``uptime`` and ``devices`` (id -> state):

=====================  =====================================================================
``spool_depth``        readings waiting on disk (int)
``spool_oldest_age``   seconds the oldest waiting reading has waited (0 when none)
``dropped``            readings the full spool dropped, since the spool file was created (int)
``spool_errors``       readings the spool could not store (disk full, I/O error), this run
``errors``             device id -> {state -> count of events}; devices without errors omitted
``last_error``         device id -> text of its last problem, for devices not ``ok``
``firmware``           device id -> firmware version, for drivers reporting ``info["firmware"]``
``info``               device id -> any other facts a driver reports in ``.info``
``position``           {latitude, longitude, altitude} from the first driver reporting one (GPS)
``clock_offset``       seconds, gateway clock minus GPS time, from the first driver reporting it
``stamps_moved``       readings moved 1 ms later because their series had used that time
                       (gateway/runtime/stamps.py), this run
``clock``, ``held``    ``"unset"`` and the readings held in the spool, while the gateway clock
                       is not set (gateway/runtime/clock.py); absent otherwise
``update``             the last software update: {version, result, reason, detail, rollout,
                       time} from the updater's outcome file beside the spool
                       (kernel/update_result.py: refusals and failed downloads too), or
                       {version, result, reason} from its journal (kernel/alive.py) when
                       that is newer (an update recovered at boot, never reported)
=====================  =====================================================================

``gateway_health`` (a reading of sensor ``gateway``, every ``health_interval`` seconds, through
the spool like any other reading): ``uptime`` (s), ``spool_depth`` (int),
``spool_oldest_age`` (s), ``dropped`` (int), ``decode_errors`` (int: the devices'
``crc_error`` and ``decode_error`` events, summed), ``devices_ok`` (int), ``devices_total``
(int) and, when a driver reports it, ``clock_offset`` (s).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.devices.base import Driver, Sink
from gateway.runtime.spool import Spool
from kernel.alive import UPDATE_JOURNAL, last_update, read_alive
from kernel.update_result import read_update_result
from kernel.version import installed_version
from telemetry.models import DeviceState, Reading, Status, valid_time

log = logging.getLogger(__name__)

HEALTH_MEASUREMENT = "gateway_health"
HEALTH_SENSOR = "gateway"
#: Keys of a driver's ``.info`` that describe the gateway itself, not the device.
GATEWAY_INFO_KEYS = ("position", "clock_offset")
#: Device error states that stand for a frame that failed to decode.
DECODE_STATES = ("crc_error", "decode_error")
_MAX_TEXT = 200
_LOST_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class DeviceSnapshot:
    id: str
    state: DeviceState
    errors: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, driver: Driver) -> DeviceSnapshot:
        # dict() copies: the driver's thread may update them meanwhile.
        return cls(
            driver.config.id,
            driver.state,
            dict(driver.errors),
            driver.last_error,
            _info(driver),
        )


def _info(driver: Driver) -> dict[str, Any]:
    info = dict(getattr(driver, "info", None) or {})
    stuck = driver.stuck_fields() if hasattr(driver, "stuck_fields") else []
    if stuck:
        info["stuck"] = stuck  # fields frozen for `stuck_after` seconds
    return info


def status_details(devices: Sequence[DeviceSnapshot]) -> dict[str, Any]:
    """The device part of the status: states, error counts, last errors, firmware, info."""
    out: dict[str, Any] = {"devices": {d.id: d.state for d in devices}}
    errors = {d.id: dict(d.errors) for d in devices if d.errors}
    last = {d.id: _text(d.last_error) for d in devices if d.state != "ok" and d.last_error}
    firmware = {d.id: _text(d.info["firmware"]) for d in devices if "firmware" in d.info}
    skip = (*GATEWAY_INFO_KEYS, "firmware")
    info = {
        d.id: rest
        for d in devices
        if (rest := {k: _plain(v) for k, v in d.info.items() if k not in skip})
    }
    for key, value in (("errors", errors), ("last_error", last), ("firmware", firmware)):
        if value:
            out[key] = value
    if info:
        out["info"] = info
    position = _first(devices, "position", lambda v: isinstance(v, dict))
    if position is not None:
        out["position"] = _plain(position)
    offset = clock_offset(devices)
    if offset is not None:
        out["clock_offset"] = offset
    return out


def clock_offset(devices: Sequence[DeviceSnapshot]) -> float | None:
    """Gateway clock minus GPS time (s), from the first driver that knows it."""
    value = _first(devices, "clock_offset", _is_number)
    return None if value is None else float(value)


def health_fields(
    *,
    uptime: float,
    spool_depth: int,
    spool_oldest_age: float | None,
    dropped: int,
    devices: Sequence[DeviceSnapshot],
) -> dict[str, int | float]:
    """The fields of one ``gateway_health`` reading (types as in telemetry/units.py)."""
    fields: dict[str, int | float] = {
        "uptime": round(float(uptime), 1),
        "spool_depth": int(spool_depth),
        "spool_oldest_age": round(float(spool_oldest_age or 0.0), 1),
        "dropped": int(dropped),
        "decode_errors": sum(d.errors.get(s, 0) for d in devices for s in DECODE_STATES),
        "devices_ok": sum(1 for d in devices if d.state == "ok"),
        "devices_total": len(devices),
    }
    offset = clock_offset(devices)
    if offset is not None:
        fields["clock_offset"] = offset
    return fields


class Health:
    """Live health of one gateway: uptime, devices, spool; builds statuses and readings."""

    def __init__(
        self,
        gateway: str,
        spool: Spool,
        drivers: Callable[[], Sequence[Driver]],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        update_journal: Path | None = UPDATE_JOURNAL,
        update_result: Path | None = None,
        extras: Callable[[], dict[str, Any]] | None = None,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self.gateway = gateway
        self.extras = extras  # more status keys, from the service (stamps, clock)
        self.wall = wall or clock  # the status's time: the system clock, not a provisional one
        self.update_journal = update_journal
        self.update_result = update_result  # the updater's outcome file, beside the spool
        self.spool = spool
        self.drivers = drivers
        self.clock = clock
        self.monotonic = monotonic
        self.spool_errors = 0
        self._started = monotonic()
        self._last_lost_log = float("-inf")

    def uptime(self) -> float:
        return self.monotonic() - self._started

    def snapshot(self) -> list[DeviceSnapshot]:
        return [DeviceSnapshot.of(driver) for driver in self.drivers()]

    def device_states(self) -> dict[str, DeviceState]:
        return {d.config.id: d.state for d in self.drivers()}

    def changes(self) -> tuple[object, ...]:
        """What, when it changes, is worth a status at once: the device states and the
        updater's files (a new outcome is reported without waiting for ``status_interval``)."""
        return (self.device_states(), _stamp(self.update_result), _stamp(self.update_journal))

    def last_update(self) -> dict[str, Any] | None:
        """The outcome file's record, unless the journal holds a newer finished update (an
        update the updater did not live to report: a power cut, recovered at boot)."""
        found = read_update_result(self.update_result)
        journal = last_update(self.update_journal)
        if found is None:
            return journal
        found.pop("v", None)
        started = (read_alive(self.update_journal) or {}).get("started") if journal else None
        if isinstance(started, int | float) and started * 1000 > found["time"]:
            return journal
        return found

    def lost(self, count: int, error: Exception) -> None:
        """*count* readings could not be stored in the spool (disk full, I/O error)."""
        self.spool_errors += count
        now = self.monotonic()
        if now - self._last_lost_log >= _LOST_LOG_INTERVAL:
            self._last_lost_log = now
            log.error("%s; %d reading(s) lost so far (free disk space?)", error, self.spool_errors)

    def status(self, state: str) -> Status:
        ms = int(self.wall() * 1000)
        return Status(
            gateway=self.gateway,
            state=state,  # type: ignore[arg-type]
            time=ms if valid_time(ms) else None,
            version=installed_version(),
            uptime=round(self.uptime(), 1),
            **status_details(self.snapshot()),
            spool_depth=self.spool.depth(),
            spool_oldest_age=round(self.spool.oldest_age() or 0.0, 1),
            dropped=self.spool.dropped(),
            spool_errors=self.spool_errors,
            **({"update": update} if (update := self.last_update()) else {}),
            **(self.extras() if self.extras is not None else {}),
        )

    def reading(self) -> Reading | None:
        """A ``gateway_health`` reading for now; None if the gateway clock is not set."""
        ms = int(self.clock() * 1000)
        if not valid_time(ms):
            return None
        fields = health_fields(
            uptime=self.uptime(),
            spool_depth=self.spool.depth(),
            spool_oldest_age=self.spool.oldest_age(),
            dropped=self.spool.dropped(),
            devices=self.snapshot(),
        )
        return Reading(sensor=HEALTH_SENSOR, measurement=HEALTH_MEASUREMENT, time=ms, fields=fields)


def report_periodically(health: Health, sink: Sink, interval: float, stop: threading.Event) -> None:
    """Thread body: a ``gateway_health`` reading into *sink* every *interval* seconds."""
    warned = False
    while not stop.wait(interval):
        try:
            reading = health.reading()
            if reading is None:
                if not warned:
                    log.warning("gateway clock is not set: no gateway_health readings until it is")
                    warned = True
                continue
            warned = False
            sink([reading])
        except Exception:  # health reporting must never take the gateway down
            log.exception("could not take a gateway_health reading; trying again later")


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        found = path.stat() if path is not None else None
    except OSError:
        return None
    return None if found is None else (found.st_mtime_ns, found.st_size)


def _first(devices: Sequence[DeviceSnapshot], key: str, ok: Callable[[Any], bool]) -> Any:
    return next((d.info[key] for d in devices if key in d.info and ok(d.info[key])), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _plain(value: Any, depth: int = 0) -> Any:
    """*value* as JSON-safe data (drivers may put anything into ``.info``)."""
    if value is None or isinstance(value, bool | int | str):
        return _text(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth < 4 and isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value[:50]]
    return _text(value)
