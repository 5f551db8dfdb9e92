"""Modbus RTU sensors over RS-485, described by register-map profiles
(gateway/devices/modbus/profiles/).

Each device polls one unit every ``poll_interval`` (aligned to multiples of the interval on
the gateway clock) in its own thread: it reads the blocks planned by the profile through the
:class:`~gateway.devices.modbus.bus.ModbusBus` of its port, which it shares with every other Modbus
device configured on the same port (one owner per RS-485 bus, requests serialised; see
:mod:`gateway.devices.modbus.bus`). The registers are decoded by the profile's pure decoders and the
device's :class:`~gateway.devices.modbus.decoder.DeviceDecoder` (counters, ranges, derived fields)
into one reading for the sink. Timeout, retries and interval are per device. Device states:

- ``timeout``: nothing came back (after ``retries`` retries; the bus is free between tries).
- ``crc_error``: bytes came back, but with a bad CRC, cut short, or as garbage.
- ``decode_error``: a valid frame from another unit or of the wrong length, or values that
  cannot be published (NaN, out of ``range``, a counter glitch; the good fields are still
  published).
- ``error``: the device answered with a Modbus exception (e.g. illegal data address: wrong
  profile or unit), or the port exists but cannot be opened.
- ``unplugged``: the port path is gone or the port fails with an I/O error; the bus closes
  it for every device on it and each device tries again every ``reopen_interval``.

Counters start again (no increase on the first poll) when the driver starts and whenever
the bus port was reopened since the device's previous poll.

A profile with ``[info.firmware]`` (:mod:`telemetry.node_firmware`) has its node's firmware
version read once per opening of the port, at the first poll the node answers, not every poll;
it is reported as ``info["firmware"]`` and so reaches the status's ``firmware``. A node that does
not answer those registers, or answers something that is no version, has an unknown version
(no ``firmware`` key, a warning in the log); its readings are published all the same.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from gateway.devices.base import Clock, DeviceConfig, Driver, Problem, SerialPort, Sink
from gateway.devices.modbus.bus import BUS_POOL, BusError, BusPool, BusTimeout
from gateway.devices.modbus.decoder import DeviceDecoder, ParamError, resolve_params
from gateway.devices.modbus.frames import ModbusFrameError
from gateway.devices.modbus.profile import (
    FUNCTION_CODES,
    Profile,
    ProfileDecodeError,
    compile_profile,
    load_profile,
    profile_is_path,
)
from kernel.config import ConfigError
from kernel.fields import resolve_path
from kernel.text import TextError
from telemetry.models import DeviceState, Reading
from telemetry.node_firmware import FirmwareFormatError, decode_firmware


class ModbusConfig(DeviceConfig):
    driver: Literal["modbus"]
    serial: SerialPort
    unit: int = Field(1, ge=1, le=247, description="Modbus slave address")
    profile: str = Field(
        description="profile name in gateway/devices/modbus/profiles, or a path to a .toml "
        "relative to the config file"
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,
        description="numbers the profile asks for, e.g. { reference = 250.0 } (cm)",
    )
    poll_interval: float = Field(5.0, ge=0.2, le=3600, description="seconds between polls")
    retries: int = Field(2, ge=0, le=10, description="retries of a request without answer")

    @field_validator("profile")
    @classmethod
    def _profile_loads(cls, value: str, info: ValidationInfo) -> str:
        if profile_is_path(value):  # a file of the site's own: the config rule for paths
            value = str(resolve_path(Path(value), info))
        _load(value)
        return value

    @field_validator("params")
    @classmethod
    def _params_fit(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("profile")
        if name is None:
            return value  # the profile itself is already reported
        _, problems = resolve_params(_load(name), value)
        if problems:
            raise ValueError("; ".join(f"{k} = {v!r}: {m}" for k, v, m in problems))
        return value


def _load(name: str) -> Profile:
    """The profile, or a ValueError that pydantic reports at the ``profile`` key."""
    try:
        return load_profile(name)
    except ConfigError as exc:
        if len(exc.texts) == 1 and exc.texts[0] is not None and exc.problems[0][0] == "profile":
            raise TextError(exc.texts[0].key, **exc.texts[0].args) from None  # no such profile
        detail = "; ".join(f"{k} = {v!r}: {m}" for k, v, m in exc.problems)
        raise ValueError(f"profile {exc.path}: {detail}") from None


#: Device state for each reason the frame core gives.
STATE_OF_REASON: dict[str, DeviceState] = {
    "crc_error": "crc_error",
    "truncated": "crc_error",
    "garbage": "crc_error",
    "wrong_unit": "decode_error",
    "wrong_length": "decode_error",
    "exception": "error",
}
#: Frame errors that a retry cannot cure (the device did answer, deliberately).
NO_RETRY = frozenset({"exception", "wrong_length"})


class _Failure(Exception):
    """One failed poll: the device state it means, a message for the log and the same as a
    :data:`~gateway.devices.base.Problem` for people."""

    def __init__(self, state: DeviceState, message: str, problem: Problem | None = None) -> None:
        self.state: DeviceState = state
        self.problem = problem
        super().__init__(message)


class ModbusDriver(Driver):
    """Polls one Modbus RTU unit described by a profile, through the bus of its port."""

    config: ModbusConfig

    def __init__(
        self,
        config: ModbusConfig,
        sink: Sink,
        clock: Clock = time.time,
        *,
        pool: BusPool | None = None,
    ) -> None:
        super().__init__(config, sink, clock)
        # Raises kernel.config.ConfigError at start for a missing or broken profile,
        # params that do not fit it, or serial settings that clash with a bus neighbour.
        self.profile = compile_profile(load_profile(config.profile))
        try:
            self.decoder = DeviceDecoder(self.profile, config.params)
        except ParamError as exc:
            where = f"devices[id={config.id}]"
            raise ConfigError(
                "gateway config", [(f"{where}.{k}", v, m) for k, v, m in exc.problems]
            ) from None
        self.pool = BUS_POOL if pool is None else pool
        self.bus = self.pool.join(self, config.id, config.serial, config.unit)
        self._generation: int | None = None  # bus generation of the counter baselines
        self.polls = 0  # readings handed to the sink
        self.reads = 0  # polls the device answered completely
        self.counters: dict[str, int] = {}  # raw counts of the counter fields, last poll

    # -- loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        cfg = self.config
        self.pool.attach(self.bus, self, cfg.id, cfg.serial, cfg.unit)
        try:
            while not stop.is_set():
                stop.wait(self._step())
        except Exception as exc:  # never raise out of run(); a bug, so keep the traceback
            self.log.exception("device %s: driver stopped by an unexpected error", cfg.id)
            with contextlib.suppress(Exception):
                self.set_state(
                    "error", f"driver failure: {exc!r}", ("unexpected", {"error": repr(exc)})
                )
        finally:
            self.pool.leave(self.bus, cfg.id)

    def _step(self) -> float:
        """Poll once; return the seconds to wait before the next poll."""
        try:
            self.poll()
        except BusError as exc:  # unplugged, or will not open: persists, counted once
            self._mark(exc.state, str(exc), exc.problem)  # type: ignore[arg-type]
            return self.config.reopen_interval
        except _Failure as failure:
            self.set_state(failure.state, str(failure), failure.problem)
        except Exception as exc:  # a bug: log it with its traceback, keep the driver alive
            self.log.exception("device %s: unexpected error while polling", self.config.id)
            self.set_state(
                "error", f"unexpected error: {exc!r}", ("unexpected", {"error": repr(exc)})
            )
            return self.config.reopen_interval
        return self._until_next_poll()

    def _until_next_poll(self) -> float:
        interval = self.config.poll_interval
        now = self.clock()
        return interval - (now % interval)

    def _mark(self, state: DeviceState, message: str, problem: Problem | None = None) -> None:
        """set_state for conditions that persist across retries: counted once, not per try."""
        if self.state != state:
            self.set_state(state, message, problem)

    # -- one poll -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Read every planned block, decode, and hand one reading to the sink (none when no
        field has a value yet, e.g. a counter's first poll). Raises :class:`_Failure` or
        :class:`~gateway.devices.modbus.bus.BusError` for device failures."""
        started = self.clock()
        blocks = [self._read_block(start, count) for start, count in self.profile.blocks]
        if self.bus.generation != self._generation:  # first poll, or the port was reopened
            self.decoder.reset()
            self._generation = self.bus.generation
            self._read_firmware()
        try:
            decoded = self.decoder.decode(self.profile.registers_of(blocks))
        except ProfileDecodeError as exc:
            problem = ("decode_failed", {"profile": self.config.profile})
            raise _Failure("decode_error", f"decode failed: {exc}", problem) from None
        self.reads += 1
        self.counters = decoded.counters
        for event in decoded.events:
            self.log.info("device %s: %s", self.config.id, event)
        reading = None
        if decoded.fields:
            try:
                reading = Reading(
                    sensor=self.config.id,
                    measurement=self.profile.measurement,
                    time=round(started * 1000),
                    fields=decoded.fields,
                )
            except ValidationError as exc:  # e.g. the gateway clock is unset (1970)
                problem = ("reading_refused", {"time": round(started * 1000)})
                raise _Failure(
                    "error", f"reading refused: {exc.errors()[0]['msg']}", problem
                ) from None
        if decoded.problems:
            shown = "; ".join(f"{name}: {why}" for name, why in decoded.problems.items())
            fields = ", ".join(decoded.problems)
            self.set_state(
                "decode_error", f"not published: {shown}", ("not_published", {"fields": fields})
            )
        else:
            self.set_state("ok")
        if reading is not None:
            self.polls += 1
            self.sink([reading])

    def _read_block(self, start: int, count: int) -> list[int]:
        cfg = self.config
        fc = self.profile.function_code
        where = f"unit {cfg.unit}, {count} register(s) at {start}, FC {fc}"
        args = {"unit": cfg.unit, "count": count, "start": start, "fc": fc}
        failure = _Failure("timeout", "no attempt")
        for _ in range(cfg.retries + 1):
            try:
                return self.bus.read_registers(cfg.unit, fc, start, count, cfg.serial.timeout)
            except BusTimeout:
                tries = cfg.retries + 1
                problem: Problem = ("no_answer", {**args, "tries": tries})
                failure = _Failure("timeout", f"no answer ({where}; {tries} tries)", problem)
            except ModbusFrameError as exc:
                problem = (f"frame_{exc.reason}", {**args, "code": exc.exception_code or "-"})
                failure = _Failure(STATE_OF_REASON[exc.reason], f"{exc} ({where})", problem)
                if exc.reason in NO_RETRY:
                    break
        raise failure

    def _read_firmware(self) -> None:
        """The node's firmware version (the profile's ``[info.firmware]``) into ``info``; none
        (unknown) when the node does not answer it or answers no version. Never raises for
        the device: the poll's readings go out whatever happens here."""
        spec = self.profile.profile.info.firmware
        if spec is None:
            return
        cfg = self.config
        fc = FUNCTION_CODES[spec.function or self.profile.profile.function]
        why = "no attempt"
        for _ in range(cfg.retries + 1):
            try:
                words = self.bus.read_registers(
                    cfg.unit, fc, spec.address, spec.registers, cfg.serial.timeout
                )
                version = decode_firmware(spec, words)
            except BusTimeout:
                why = f"no answer ({spec.registers} register(s) at {spec.address}, FC {fc})"
                continue
            except ModbusFrameError as exc:
                why = f"{exc} ({spec.registers} register(s) at {spec.address}, FC {fc})"
                if exc.reason in NO_RETRY:
                    break
                continue
            except (BusError, FirmwareFormatError) as exc:
                why = str(exc)
                break
            if self.info.get("firmware") != version:
                self.log.info("device %s: firmware %s", cfg.id, version)
            self.info["firmware"] = version
            return
        self.info.pop("firmware", None)
        self.log.warning("device %s: firmware version unknown: %s", cfg.id, why)
