"""What every device driver is: a typed config model and a class that runs in its own thread.

A driver owns its serial port (or, for Modbus, its bus) and loops until ``stop`` is set:
it reads the device, turns bytes into :class:`telemetry.Reading` objects through a pure
parser, and hands them to ``sink``. It never raises out of ``run``: every failure becomes a
device state (``timeout``, ``crc_error``, ``decode_error``, ``unplugged``, ``error``) and a
counted, logged event, and the driver retries after ``reopen_interval``. One failing device
never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from telemetry.models import DeviceState, Reading
from telemetry.topics import ID_PATTERN

Sink = Callable[[Sequence[Reading]], None]
Clock = Callable[[], float]  # seconds since the Unix epoch, UTC (time.time by default)


class SerialPort(BaseModel):
    """How a serial port is spelled in every driver's config."""

    model_config = ConfigDict(extra="forbid")

    port: str = Field(description="device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout: float = Field(1.0, gt=0, le=30, description="read timeout in seconds")


class DeviceConfig(BaseModel):
    """Keys every device has. Driver configs subclass this and add ``driver: Literal[...]``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=f"^{ID_PATTERN}$", description="sensor id, unique per gateway")
    reopen_interval: float = Field(
        5.0, gt=0, le=600, description="seconds between attempts to reopen a failed port"
    )


class Driver(ABC):
    """Base class: subclasses implement :meth:`run` and keep :attr:`state` current."""

    def __init__(self, config: DeviceConfig, sink: Sink, clock: Clock = time.time) -> None:
        self.config = config
        self.sink = sink
        self.clock = clock
        self.state: DeviceState = "starting"
        self.last_error: str | None = None
        self.errors: dict[str, int] = {}  # state name -> count of events
        #: Extra facts a driver reports for the gateway status, e.g. the GPS driver's
        #: ``position`` ({"latitude", "longitude", "altitude"}) and ``clock_offset`` (seconds,
        #: gateway clock minus GPS time). The publisher merges them into the status message.
        self.info: dict[str, Any] = {}
        self.log = logging.getLogger(f"gateway.device.{config.id}")

    def set_state(self, state: DeviceState, error: str | None = None) -> None:
        """Record the device state; log transitions (not every repeat) and count errors."""
        if state != "ok":
            self.errors[state] = self.errors.get(state, 0) + 1
        if state != self.state:
            if state == "ok":
                self.log.info("device %s: ok (was %s)", self.config.id, self.state)
            else:
                self.log.warning("device %s: %s: %s", self.config.id, state, error)
        self.state = state
        self.last_error = error

    @abstractmethod
    def run(self, stop: threading.Event) -> None:
        """Loop until *stop* is set. Must not raise."""
