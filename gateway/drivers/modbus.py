"""Modbus RTU sensors over RS-485, described by register-map profiles (gateway/profiles/).

STUB: the config model is final; the driver is being written.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import Field

from gateway.drivers.base import DeviceConfig, Driver, SerialPort


class ModbusConfig(DeviceConfig):
    driver: Literal["modbus"]
    serial: SerialPort
    unit: int = Field(1, ge=1, le=247, description="Modbus slave address")
    profile: str = Field(description="profile name in gateway/profiles, or a path to a .toml")
    poll_interval: float = Field(5.0, ge=0.2, le=3600, description="seconds between polls")
    retries: int = Field(2, ge=0, le=10, description="retries of a request without answer")


class ModbusDriver(Driver):
    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError
