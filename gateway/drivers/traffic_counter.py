"""Traffic counter streaming per-vehicle ASCII records (docs/protocol.md 5.1).

STUB: the config model is final; the driver is being written.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import Field

from gateway.drivers.base import DeviceConfig, Driver, SerialPort


class TrafficCounterConfig(DeviceConfig):
    driver: Literal["traffic_counter"]
    serial: SerialPort
    interval: int = Field(60, ge=1, le=3600, description="aggregation interval, seconds")
    lanes: list[int] = Field([1, 2], min_length=1, description="lanes reported every interval")
    grace: float = Field(2.0, ge=0, le=60, description="seconds to wait for late records")
    heartbeat_timeout: float = Field(
        30.0, gt=0, le=3600, description="seconds of silence before the device is 'timeout'"
    )


class TrafficCounterDriver(Driver):
    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError
