"""Which devices may share a serial port: the config checks across devices of one bus.

Used by :class:`gateway.devices.modbus.bus.BusPool` when drivers join a bus, and by
:func:`bus_problems` for the whole gateway config (pure: only reads paths to resolve symlinks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from gateway.devices.base import SerialPort

#: Serial settings that must agree between devices on one bus (``timeout`` is per device).
BUS_KEYS = ("baudrate", "bytesize", "parity", "stopbits")


def bus_key(port: str) -> str:
    return os.path.abspath(port)


def real_path(port: str) -> str | None:
    return os.path.realpath(port) if os.path.exists(port) else None


def bus_settings(port: SerialPort) -> tuple:
    return tuple(getattr(port, key) for key in BUS_KEYS)


def clashes(
    port: SerialPort, unit: int, others: Sequence[tuple[str, SerialPort, int]]
) -> list[tuple[str, Any, str]]:
    """``(key below the device, value, message)`` for each disagreement with *others*."""
    problems: list[tuple[str, Any, str]] = []
    for other_id, other, other_unit in others:
        for key in BUS_KEYS:
            mine, theirs = getattr(port, key), getattr(other, key)
            if mine != theirs:
                problems.append(
                    (
                        f"serial.{key}",
                        mine,
                        f"shares the bus {port.port} with device {other_id!r}, which has "
                        f"{key} = {theirs!r}: devices on one bus need the same baudrate, "
                        "bytesize, parity and stopbits",
                    )
                )
        if unit == other_unit:
            problems.append(
                (
                    "unit",
                    unit,
                    f"is unit {unit} on {port.port}, like device {other_id!r}: each device on "
                    "a bus needs its own unit address",
                )
            )
    return problems


def bus_problems(devices: Sequence[object]) -> list[tuple[str, Any, str]]:
    """Config check across devices, for ``gateway/config.py``: ``(key, value, message)`` with
    keys ``devices[i]...`` for every device that shares a port with an earlier one, unless
    both are Modbus devices with the same serial settings and different units."""
    problems: list[tuple[str, Any, str]] = []
    on_port: dict[str, list[int]] = {}
    for i, device in enumerate(devices):
        port = getattr(device, "serial", None)
        if not isinstance(port, SerialPort):
            continue
        keys = [bus_key(port.port)] + ([real] if (real := real_path(port.port)) else [])
        earlier = sorted({j for k in keys for j in on_port.get(k, [])})
        for k in keys:
            on_port.setdefault(k, []).append(i)
        if not earlier:
            continue
        if getattr(device, "driver", None) != "modbus" or any(
            getattr(devices[j], "driver", None) != "modbus" for j in earlier
        ):
            j = earlier[0]
            other = devices[j]
            problems.append(
                (
                    f"devices[{i}].serial.port",
                    port.port,
                    f"also the port of devices[{j}] ({getattr(other, 'id', '?')!r}, "
                    f"{getattr(other, 'driver', '?')}): only Modbus devices can share a port "
                    "(one RS-485 bus)",
                )
            )
            continue
        others = [(d.id, d.serial, d.unit) for d in (devices[j] for j in earlier)]  # type: ignore[attr-defined]
        me = getattr(device, "id", "?")
        for key, value, message in clashes(port, device.unit, others):  # type: ignore[attr-defined]
            problems.append((f"devices[{i}].{key}", value, f"device {me!r} {message}"))
    return problems
