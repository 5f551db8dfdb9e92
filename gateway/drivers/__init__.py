"""Driver registry: one module per device type, listed here and nowhere else.

Each entry maps the ``driver`` key of a ``[[devices]]`` table to (config model, driver class).
"""

from __future__ import annotations

from gateway.drivers.base import DeviceConfig, Driver

DRIVERS: dict[str, tuple[type[DeviceConfig], type[Driver]]] = {}
