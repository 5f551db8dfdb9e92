"""Driver registry: one module per device type, listed here and nowhere else.

Each entry maps the ``driver`` key of a ``[[devices]]`` table to (config model, driver class).
"""

from __future__ import annotations

from gateway.drivers.base import DeviceConfig, Driver
from gateway.drivers.modbus import ModbusConfig, ModbusDriver
from gateway.drivers.traffic_counter import TrafficCounterConfig, TrafficCounterDriver

DRIVERS: dict[str, tuple[type[DeviceConfig], type[Driver]]] = {
    "modbus": (ModbusConfig, ModbusDriver),
    "traffic_counter": (TrafficCounterConfig, TrafficCounterDriver),
}
