"""What every device driver is: a typed config model and a class that runs in its own thread.

A driver owns its serial port (or, for Modbus, its bus) and loops until ``stop`` is set:
it reads the device, turns bytes into :class:`telemetry.Reading` objects through a pure
parser, and hands them to ``sink``. It never raises out of ``run``: every failure becomes a
device state (``timeout``, ``crc_error``, ``decode_error``, ``unplugged``, ``error``) and a
counted, logged event, and the driver retries after ``reopen_interval``. One failing device
never stops the others.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import termios
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.devices.flatline import FlatlineWatch
from kernel.fields import DevicePath
from kernel.portclaim import ClaimWatch, claims_dir, read_claim
from telemetry.models import DeviceState, Reading
from telemetry.topics import ID_PATTERN

Sink = Callable[[Sequence[Reading]], None]
#: A device problem for people: a code and its arguments. The technician's tools render it
#: through the text catalogue (key ``problem.<code>``, kernel/messages/device.toml) in the
#: chosen language; ``last_error`` keeps the English text for the log and the status topic.
Problem = tuple[str, dict[str, Any]]
Clock = Callable[[], float]  # seconds since the Unix epoch, UTC (time.time by default)


class SerialPort(BaseModel):
    """How a serial port is spelled in every driver's config."""

    model_config = ConfigDict(extra="forbid")

    port: DevicePath = Field(description="device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = Field(
        9600, description="bits per second"
    )
    bytesize: Literal[7, 8] = Field(8, description="data bits")
    parity: Literal["N", "E", "O"] = Field("N", description="none, even or odd")
    stopbits: Literal[1, 2] = Field(1, description="stop bits")
    timeout: float = Field(1.0, gt=0, le=30, description="read timeout in seconds")


class DeviceConfig(BaseModel):
    """Keys every device has. Driver configs subclass this and add ``driver: Literal[...]``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=f"^{ID_PATTERN}$", description="sensor id, unique per gateway")
    reopen_interval: float = Field(
        5.0, gt=0, le=600, description="seconds between attempts to reopen a failed port"
    )
    stuck_after: float | None = Field(
        None,
        gt=0,
        le=7 * 86400,
        description="report a field as stuck when its value stays exactly the same for this "
        "many seconds (gauges only: a rain gauge reads 0 for days); off by default",
    )


class Driver(ABC):
    """Base class: subclasses implement :meth:`run` and keep :attr:`state` current."""

    def __init__(self, config: DeviceConfig, sink: Sink, clock: Clock = time.time) -> None:
        self.config = config
        self.sink = sink
        self.clock = clock
        self.state: DeviceState = "starting"
        self.last_error: str | None = None
        self.last_problem: Problem | None = None
        self.errors: dict[str, int] = {}  # state name -> count of events
        #: Extra facts a driver reports for the gateway status, e.g. the GPS driver's
        #: ``position`` ({"latitude", "longitude", "altitude"}) and ``clock_offset`` (seconds,
        #: gateway clock minus GPS time). The publisher merges them into the status message.
        self.info: dict[str, Any] = {}
        self._flatline = FlatlineWatch(config.stuck_after) if config.stuck_after else None
        if self._flatline is not None:
            self.sink = self._watched(sink)
        self.log = logging.getLogger(f"gateway.device.{config.id}")

    def set_state(
        self, state: DeviceState, error: str | None = None, problem: Problem | None = None
    ) -> None:
        """Record the device state; log transitions (not every repeat) and count errors.
        *error* is the English text for the log, *problem* the same for people (a code and
        its arguments, see :data:`Problem`)."""
        if state != "ok":
            self.errors[state] = self.errors.get(state, 0) + 1
        if state != self.state:
            if state == "ok":
                self.log.info("device %s: ok (was %s)", self.config.id, self.state)
            else:
                self.log.warning("device %s: %s: %s", self.config.id, state, error)
        self.state = state
        self.last_error = error
        self.last_problem = problem

    def emit(self, measurement: str, time_s: float, fields: dict[str, Any]) -> Reading | None:
        """One reading of this device, handed to the sink. A reading the contract refuses
        (e.g. the gateway clock is unset: 1970) sets the state ``error`` and is not sent."""
        try:
            reading = Reading(
                sensor=self.config.id,
                measurement=measurement,
                time=round(time_s * 1000),
                fields=fields,
            )
        except ValidationError as exc:
            self.set_state(
                "error",
                f"reading refused: {exc.errors()[0]['msg']}",
                ("reading_refused", {"time": round(time_s * 1000)}),
            )
            return None
        self.deliver([reading])
        return reading

    def deliver(self, readings: list[Reading]) -> None:
        """Hand *readings* to the sink (the spool). A failing sink is logged, never raised:
        the driver's thread goes on with the next reading."""
        if not readings:
            return
        try:
            self.sink(readings)
        except Exception:
            self.log.exception(
                "device %s: sink failed, %d reading(s) lost", self.config.id, len(readings)
            )

    @abstractmethod
    def run(self, stop: threading.Event) -> None:
        """Loop until *stop* is set. Must not raise."""

    def stuck_fields(self) -> list[str]:
        """Fields whose value has been frozen for ``stuck_after`` seconds (status ``info``)."""
        return self._flatline.stuck() if self._flatline is not None else []

    def _watched(self, sink: Sink) -> Sink:
        watch = self._flatline
        assert watch is not None

        def sink_and_watch(readings: Sequence[Reading]) -> None:
            for reading in readings:
                became, recovered = watch.observe(reading)
                if became:
                    self.errors["stuck"] = self.errors.get("stuck", 0) + 1
                    self.log.warning(
                        "device %s: value of %s unchanged for %g s or more: sensor stuck?",
                        self.config.id,
                        ", ".join(became),
                        self.config.stuck_after,
                    )
                if recovered:
                    self.log.info(
                        "device %s: %s moving again", self.config.id, ", ".join(recovered)
                    )
            sink(readings)

        return sink_and_watch


#: errno values that mean the port is gone (adapter unplugged, path removed, pty closed).
PORT_GONE = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO})


def open_problem(port: str, code: int | None, text: str) -> Problem:
    """Why *port* would not open, for people: gone, in use, no permission, or other."""
    if code in PORT_GONE:
        return ("port_gone", {"port": port})
    if "lock" in text or code == errno.EBUSY:
        return ("port_busy", {"port": port})
    if code in (errno.EACCES, errno.EPERM):
        return ("port_denied", {"port": port})
    return ("port_unavailable", {"port": port, "errno": errno.errorcode.get(code or 0, "-")})


def io_problem(port: str) -> Problem:
    """An I/O error on an open port (the cable was pulled, the adapter reset)."""
    return ("io_error", {"port": port})


class SerialSessionDriver(Driver):
    """Template for a driver that owns one serial port: open it, run a session on it until
    it fails or ``stop`` is set, close it, wait ``reopen_interval``, open it again.

    Subclasses implement :meth:`session`; they may override :meth:`opened` (what a successful
    open means for the state) and :meth:`after_session` (e.g. flush what an outage closed).
    The config must have a ``serial: SerialPort`` key.
    """

    #: Longest single read, seconds: short, so that stop and timers are handled on time.
    read_slice: float = 0.2

    def run(self, stop: threading.Event) -> None:
        folder = claims_dir()
        path = self.config.serial.port  # type: ignore[attr-defined]
        while not stop.is_set():
            # A flashing tool may claim the port (kernel/portclaim.py): the session sees
            # ``watch`` set, returns, and the port stays closed until the claim is gone.
            watch = ClaimWatch(stop, path, folder)
            if self._lent(watch, path, folder):
                stop.wait(watch.every)
                continue
            try:
                port = self.open_port()
                if port is not None:
                    try:
                        self.session(port, watch)  # type: ignore[arg-type]
                    finally:
                        with contextlib.suppress(OSError):  # closing a port that is gone
                            port.close()
            except Exception as exc:  # a bug, not a device fault: keep the gateway alive
                self.log.exception("device %s: unexpected error", self.config.id)
                text = f"{type(exc).__name__}: {exc}"
                self.set_state("error", text, ("unexpected", {"error": text}))
            self.after_session()
            if not stop.is_set() and not watch.claimed:
                stop.wait(self.config.reopen_interval)

    def _lent(self, watch: ClaimWatch, path: str, folder: Path) -> bool:
        """True while *path* is claimed by a flashing tool (state ``error``, problem
        ``port_released``)."""
        claim = read_claim(path, folder)
        if claim is None:
            return False
        watch.claimed = True
        by = str(claim.get("by", "?"))
        if self.last_problem is None or self.last_problem[0] != "port_released":
            self.set_state(
                "error",
                f"{path} lent to {by} for flashing",
                ("port_released", {"port": path, "by": by}),
            )
        return True

    def open_port(self) -> serial.SerialBase | None:
        cfg: SerialPort = self.config.serial  # type: ignore[attr-defined]
        try:
            port = serial.serial_for_url(
                cfg.port,
                baudrate=cfg.baudrate,
                bytesize=cfg.bytesize,
                parity=cfg.parity,
                stopbits=cfg.stopbits,
                timeout=min(cfg.timeout, self.read_slice),
                write_timeout=max(cfg.timeout, 1.0),
                # One owner per port: another program reading it would take bytes from us.
                exclusive=True,
            )
        except (OSError, ValueError, termios.error) as exc:
            # termios.error: the port refused the settings (a pseudo-terminal refuses parity)
            code = getattr(exc, "errno", None)
            gone = code in PORT_GONE
            why = " (in use by another program?)" if "lock" in str(exc) else ""
            problem = open_problem(cfg.port, code, str(exc))
            self.set_state(
                "unplugged" if gone else "error", f"cannot open {cfg.port}{why}: {exc}", problem
            )
            return None
        self.opened(port)
        return port

    def opened(self, port: serial.SerialBase) -> None:
        """The port is open: by default the device counts as ok until the session says not."""
        self.set_state("ok")

    @abstractmethod
    def session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        """Talk to the device until the port fails (set a state and return) or stop is set."""

    def read_lines(
        self,
        port: serial.SerialBase,
        stop: threading.Event,
        framer: Any,
        handle: Callable[[bytes, float], None],
        silence_timeout: float,
        every_turn: Callable[[], None] | None = None,
    ) -> None:
        """Session body for a device that sends lines on its own (NMEA, a station in stream
        mode): cut the bytes into lines with *framer* (``feed(bytes) -> lines``), hand each to
        *handle* with the gateway time it arrived, set ``timeout`` after *silence_timeout*
        seconds without a byte, and set ``unplugged`` and return when the port fails.
        *every_turn* runs after every read (timers that must not wait for data)."""
        last_bytes = time.monotonic()
        while not stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except OSError as exc:  # serial.SerialException included
                port_name = self.config.serial.port  # type: ignore[attr-defined]
                self.set_state("unplugged", f"{port_name}: {exc}", io_problem(port_name))
                return
            now = time.monotonic()
            if data:
                last_bytes = now
                received = self.clock()
                for line in framer.feed(data):
                    handle(line, received)
            elif now - last_bytes >= silence_timeout and self.state != "timeout":
                self.set_state(
                    "timeout",
                    f"no data for {silence_timeout:g} s",
                    ("no_data", {"seconds": f"{silence_timeout:g}"}),
                )
            if every_turn is not None:
                every_turn()

    def after_session(self) -> None:
        """Called after every session or failed open, before waiting to reopen."""
