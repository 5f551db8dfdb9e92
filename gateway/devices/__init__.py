"""Driver registry: one module per device type, listed here and nowhere else.

Each entry maps the ``driver`` key of a ``[[devices]]`` table to (config model, driver class).
"""

from __future__ import annotations

from gateway.devices.base import DeviceConfig, Driver
from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.devices.nmea_gps.driver import NmeaGpsConfig, NmeaGpsDriver
from gateway.devices.traffic_counter.driver import TrafficCounterConfig, TrafficCounterDriver
from gateway.devices.weather_ascii.driver import WeatherAsciiConfig, WeatherAsciiDriver

DRIVERS: dict[str, tuple[type[DeviceConfig], type[Driver]]] = {
    "modbus": (ModbusConfig, ModbusDriver),
    "traffic_counter": (TrafficCounterConfig, TrafficCounterDriver),
    "weather_ascii": (WeatherAsciiConfig, WeatherAsciiDriver),
    "nmea_gps": (NmeaGpsConfig, NmeaGpsDriver),
}
