"""Reading and writing a node's settings over Modbus RTU (pymodbus' serial client).

:func:`plan_changes` checks every requested value against the profile before anything is
sent; :func:`apply_changes` writes them (plain settings first, then the baud rate, the unit
address last), reading each back: the unit address at the new address, the baud rate at the
old speed (nodes switch after a restart).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException

from firmware_tools.node.profile import NodeProfile
from kernel.text import TextError
from telemetry.node_settings import NodeSetting, decode, encode, parse_value, shown


class NodeError(Exception):
    """The node did not answer, refused a write, or read back something else."""

    def __init__(self, key: str, /, **args: object) -> None:
        self.error = TextError(key, **args)
        self.text = self.error.text
        super().__init__(str(self.error))


@dataclass(frozen=True)
class Line:
    port: str
    unit: int
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    timeout: float = 1.0
    retries: int = 2


@dataclass(frozen=True)
class Change:
    name: str
    setting: NodeSetting
    raw: int


@dataclass(frozen=True)
class Done:
    name: str
    setting: NodeSetting
    old: int
    new: int


def plan_changes(profile: NodeProfile, assignments: Sequence[str]) -> list[Change]:
    """``name=value`` texts -> checked changes, in the order they are written. Raises
    :class:`TextError` for the first bad one (nothing is written then)."""
    changes: dict[str, Change] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise TextError("node.err.assignment", text=text)
        name = name.strip()
        setting = profile.setting(name)
        changes[name] = Change(name, setting, parse_value(setting, value.strip(), name))
    order = {None: 0, "baud_rate": 1, "unit_address": 2}
    return sorted(changes.values(), key=lambda c: order[c.setting.role])


@contextmanager
def connect(line: Line) -> Iterator[ModbusSerialClient]:
    client = ModbusSerialClient(
        line.port,
        baudrate=line.baudrate,
        parity=line.parity,
        stopbits=line.stopbits,
        timeout=line.timeout,
        retries=line.retries,
        reconnect_delay=0,
    )
    if not client.connect():
        raise NodeError("node.err.no_answer", port=line.port, unit=line.unit, detail="open")
    try:
        yield client
    finally:
        client.close()


def read_raw(client: ModbusSerialClient, line: Line, unit: int, name: str, s: NodeSetting) -> int:
    try:
        answer = client.read_holding_registers(s.address, count=len(s.registers), device_id=unit)
    except ModbusException as exc:
        raise NodeError("node.err.no_answer", port=line.port, unit=unit, detail=exc) from None
    if answer.isError():
        code = getattr(answer, "exception_code", "?")
        raise NodeError("node.err.no_answer", port=line.port, unit=unit, detail=f"code {code}")
    return decode(s, list(answer.registers))


def read_all(client: ModbusSerialClient, line: Line, profile: NodeProfile) -> dict[str, int]:
    return {n: read_raw(client, line, line.unit, n, s) for n, s in profile.settings.items()}


def write_raw(client: ModbusSerialClient, line: Line, change: Change) -> None:
    words = encode(change.setting, change.raw)
    try:
        if len(words) == 1:
            answer = client.write_register(change.setting.address, words[0], device_id=line.unit)
        else:
            answer = client.write_registers(change.setting.address, words, device_id=line.unit)
    except ModbusException as exc:
        raise NodeError("node.err.no_answer", port=line.port, unit=line.unit, detail=exc) from None
    if answer.isError():
        code = getattr(answer, "exception_code", "?")
        raise NodeError("node.err.refused", name=change.name, code=code)


def apply_changes(client: ModbusSerialClient, line: Line, changes: Sequence[Change]) -> list[Done]:
    """Write each change that differs from the node's value and read it back."""
    done: list[Done] = []
    for change in changes:
        old = read_raw(client, line, line.unit, change.name, change.setting)
        if old == change.raw:
            done.append(Done(change.name, change.setting, old, old))
            continue
        write_raw(client, line, change)
        unit = change.raw if change.setting.role == "unit_address" else line.unit
        back = read_raw(client, line, unit, change.name, change.setting)
        if back != change.raw:
            got, want = shown(change.setting, back), shown(change.setting, change.raw)
            raise NodeError("node.err.readback", name=change.name, got=got, want=want)
        done.append(Done(change.name, change.setting, old, back))
    return done
