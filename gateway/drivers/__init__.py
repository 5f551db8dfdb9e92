"""Driver registry: one module per device type, listed here and nowhere else.

Each entry maps the ``driver`` key of a ``[[devices]]`` table to (config model, driver class).
"""

from __future__ import annotations

from gateway.drivers.base import DeviceConfig, Driver
from gateway.drivers.modbus import ModbusConfig, ModbusDriver
from gateway.drivers.nmea_gps import NmeaGpsConfig, NmeaGpsDriver
from gateway.drivers.traffic_counter import TrafficCounterConfig, TrafficCounterDriver
from gateway.drivers.weather_ascii import WeatherAsciiConfig, WeatherAsciiDriver

DRIVERS: dict[str, tuple[type[DeviceConfig], type[Driver]]] = {
    "modbus": (ModbusConfig, ModbusDriver),
    "traffic_counter": (TrafficCounterConfig, TrafficCounterDriver),
    "weather_ascii": (WeatherAsciiConfig, WeatherAsciiDriver),
    "nmea_gps": (NmeaGpsConfig, NmeaGpsDriver),
}
