"""Emulated RS-485 Modbus RTU sensors: a real pymodbus RTU server on a pseudo-terminal.

The register maps come from the gateway's profile files (gateway/devices/modbus/profiles/),
read as data by :mod:`simulators.devices.register_maps`, so every sensor model the gateway
knows can be emulated without code; the registers are encoded by the emulator's own
:mod:`simulators.devices.wire.registers`, never the gateway's code; the values come from
:class:`simulators.devices.modbus_patterns.RegisterPattern` (seeded and plausible per kind of
field).

:class:`ModbusBusSim` is one RS-485 line with several devices: one pymodbus server answering
several unit ids on one SerialLink, as on a real bus. Requests for a unit that is not on the
line, or that was made silent with :meth:`ModbusBusSim.set_silent`, get no answer at all. The
server counts the requests it is working on at once (:attr:`ModbusBusSim.max_concurrent`): on
a correctly serialised bus this never exceeds 1 (give ``response_delay`` to widen the window
in which an interleaved request would be seen). :class:`ModbusSensorSim` is the one-device
line the rest of the code knew first.

Every ``update_interval`` each unit's next step is written into the server's datastore and one
truth line per unit is recorded: what the emulator meant to send, after its own rounding to
the registers::

    {"kind": "modbus_values", "device": "env1", "time": <ms>, "unit": 1,
     "registers": {"0": 413, ...}, "fields": {"pm25": 41.3, ...}, "counters": {"rain": 1234}}

``fields`` holds what a gateway following docs/protocol.md 5.2 publishes from those values
(ranges, derived fields), apart from counters (whose published value is an increase between
two polls); ``counters`` holds the raw counts; ``out_of_range`` (only when there are any) the
values sent that such a gateway refuses (an ``out_of_range`` fault).

Usage::

    with SerialLink(tmp / "ttyBUS") as link, ModbusBusSim(
        link.device_path,
        [SimSpec(1, "pm-th-generic"), SimSpec(2, "level-ultrasonic-generic",
                                              params={"reference": 250.0})],
    ):
        ...  # the gateway polls link.path
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.devices.modbus_patterns import RANGES, VIRTUAL_EPOCH, WIB, RegisterPattern
from simulators.devices.node_firmware import DEFAULT_FIRMWARE, node_firmware_block
from simulators.devices.node_settings import NodeSettings, load_node_settings
from simulators.devices.register_maps import RegisterMap, load_register_map
from simulators.truth import TruthWriter

__all__ = [
    "RANGES",
    "VIRTUAL_EPOCH",
    "WIB",
    "ModbusBusSim",
    "ModbusSensorSim",
    "RegisterPattern",
    "SimSpec",
]

log = logging.getLogger(__name__)

#: ``value_filter(sensor_id, values) -> values``: rewrites a device's values before they are sent.
ValueFilter = Callable[[str, dict[str, float]], dict[str, float]]


@dataclass
class SimSpec:
    """One emulated device on a line: its unit address, profile and seed."""

    unit: int
    profile: str
    seed: int = 0
    params: Mapping[str, float] = field(default_factory=dict)
    sensor_id: str | None = None  # for the truth lines; default "unit<N>"
    counter_start: int | None = None  # counters' first raw value (default: seeded)
    #: Value hook: physical values by field name at a time (counters: the raw count), e.g.
    #: from a scenario; None: the seeded :class:`RegisterPattern`.
    values: Callable[[float], Mapping[str, float]] | None = None
    #: The firmware version the node answers at the profile's [info.firmware] registers;
    #: None: it has no such registers (a read of them gets an exception answer).
    firmware: str | None = DEFAULT_FIRMWARE


class _Unit:
    """A device on the line: its register map, pattern and current registers."""

    def __init__(self, spec: SimSpec, step_seconds: float) -> None:
        self.spec = spec
        self.sensor_id = spec.sensor_id or f"unit{spec.unit}"
        self.register_map = load_register_map(spec.profile)
        self.pattern = RegisterPattern(
            self.register_map, spec.seed, step_seconds, spec.params, spec.counter_start
        )
        self.current: dict[int, int] = {}
        self.silent = False
        self.requests = 0
        self.spans = self.register_map.spans
        #: The node's own settings registers (the profile's [settings]); the unit answers at
        #: :attr:`address`, which a write of its unit_address setting changes at once.
        self.settings: NodeSettings = load_node_settings(spec.profile, spec.unit)
        #: (address, words) of the firmware version registers, if the node has them.
        self.firmware = node_firmware_block(spec.profile, spec.firmware)
        self.address = spec.unit
        self.previous_address: int | None = None  # for the read-back inside that write


class _Line:
    """The datastore as seen on the bus: units not on the line (or silent) get no answer at
    all, as on a real RS-485 line (pymodbus' own store would answer with an exception)."""

    def __init__(self, core, sim: ModbusBusSim) -> None:  # core: pymodbus SimCore
        self.core = core
        self.sim = sim

    def device_ids(self) -> list[int]:
        return [unit.address for unit in self.sim.units.values() if not unit.silent]

    def _unit(self, device_id: int, writing: bool = False) -> tuple[int, _Unit]:
        """(the unit's id in the datastore, the unit) answering at bus address *device_id*;
        *writing*: the read-back inside a write, which a new unit address does not cut off."""
        for number, unit in self.sim.units.items():
            if unit.silent:
                continue
            if unit.address == device_id or (writing and unit.previous_address == device_id):
                return number, unit
        raise NoSuchIdException(f"unit {device_id} does not answer on this simulated line")

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        number, unit = self._unit(device_id, writing=func_code in (6, 16))
        sim = self.sim
        sim.in_flight += 1
        sim.max_concurrent = max(sim.max_concurrent, sim.in_flight)
        try:
            if sim.response_delay:
                await asyncio.sleep(sim.response_delay)
            unit.requests += 1
            return await self.core.async_getValues(number, func_code, address, count)
        finally:
            sim.in_flight -= 1

    async def async_setValues(self, device_id: int, func_code: int, address: int, values):
        """A write from the bus: only the settings registers are writable, with values the
        node accepts; a new unit address takes effect after this answer."""
        number, unit = self._unit(device_id)
        refused = unit.settings.refuse(address, list(values), self.sim.taken(unit))
        if refused is not None:
            return ExcCodes.ILLEGAL_ADDRESS if refused == "address" else ExcCodes.ILLEGAL_VALUE
        unit.settings.store(address, list(values))
        new = unit.settings.unit_address()
        if new is not None and new != unit.address:
            unit.previous_address, unit.address = unit.address, new
        return await self.core.async_setValues(number, func_code, address, values)


class ModbusBusSim:
    """Several Modbus RTU devices on one line at *device_path* (the device side of a
    SerialLink)."""

    def __init__(
        self,
        device_path: str,
        devices: Sequence[SimSpec],
        *,
        update_interval: float = 1.0,
        step_seconds: float | None = None,
        truth: TruthWriter | None = None,
        baudrate: int = 9600,
        response_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        source_clock: Callable[[], float] | None = None,
        value_filter: ValueFilter | None = None,
    ) -> None:
        """*source_clock*: the time given to the units' ``values`` hooks (a scenario clock's
        ``now``; default *clock*). *value_filter(sensor_id, values)*: applied to every unit's
        values before they are written (fault injection: stuck, out of range)."""
        if not devices:
            raise ValueError("a line needs at least one device")
        if len({d.unit for d in devices}) != len(devices):
            raise ValueError("two devices with one unit address on a line")
        self.device_path = device_path
        self.update_interval = update_interval
        self.truth = truth
        self.baudrate = baudrate
        self.response_delay = response_delay
        self.clock = clock
        self.source_clock = source_clock or clock
        self.value_filter = value_filter
        step = update_interval if step_seconds is None else step_seconds
        self.units: dict[int, _Unit] = {d.unit: _Unit(d, step) for d in devices}
        self.step = 0  # steps written so far
        self.in_flight = 0
        self.max_concurrent = 0  # most requests the server worked on at once
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._name = f"modbus-sim:{'+'.join(u.sensor_id for u in self.units.values())}"

    def taken(self, asking: _Unit) -> set[int]:
        """The bus addresses of the other units on the line."""
        return {u.address for u in self.units.values() if u is not asking}

    def address_of(self, unit: int) -> int:
        """The bus address the device configured as *unit* answers at now."""
        return self.units[unit].address

    def setting(self, unit: int, name: str) -> int:
        """The raw value of a setting of *unit* (as written over the bus)."""
        return self.units[unit].settings.raw(name)

    def set_silent(self, unit: int, silent: bool = True) -> None:
        """Make *unit* stop answering (a dead sensor on a live bus), or answer again."""
        self.units[unit].silent = silent

    # -- control ----------------------------------------------------------------------------
    def start(self) -> ModbusBusSim:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._thread_main, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            self.stop()
            raise RuntimeError(f"Modbus simulator did not start on {self.device_path}") from (
                self._error
            )
        return self

    def stop(self) -> None:
        """Stop answering and close the port. Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(10)
        if thread.is_alive():  # pragma: no cover - would be a bug
            log.error("modbus simulator thread %s did not stop", thread.name)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> ModbusBusSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- server thread ----------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # report to start(); nothing else to do in this thread
            self._error = exc
            log.warning("modbus simulator on %s failed: %s", self.device_path, exc)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        devices = [
            SimDevice(
                id=number,
                simdata=[
                    *(
                        SimData(start, count=n, values=0, datatype=DataType.REGISTERS)
                        for start, n in unit.spans
                    ),
                    *(
                        SimData(start, values=words, datatype=DataType.REGISTERS)
                        for start, words in unit.settings.blocks()
                    ),
                    *(
                        SimData(start, values=words, datatype=DataType.REGISTERS)
                        for start, words in ([unit.firmware] if unit.firmware is not None else [])
                    ),
                ],
            )
            for number, unit in self.units.items()
        ]
        server = ModbusSerialServer(
            devices, port=self.device_path, baudrate=self.baudrate, ignore_missing_devices=True
        )
        core = server.context
        server.context = _Line(core, self)  # type: ignore[assignment]
        await self._update(core)
        await server.serve_forever(background=True)
        self._ready.set()
        try:
            next_at = time.monotonic() + self.update_interval
            while not self._stopping.is_set():
                delay = max(0.0, next_at - time.monotonic())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    break
                next_at += self.update_interval
                await self._update(core)
        finally:
            await server.shutdown()

    async def _update(self, core) -> None:  # core: pymodbus SimCore
        """Write every unit's next step and record it in the truth, in one loop turn
        (requests are served on the same loop, so no answer mixes two steps)."""
        now = round(self.clock() * 1000)
        source_t = self.source_clock()
        for number, unit in self.units.items():
            if unit.spec.values is not None:
                values = dict(unit.spec.values(source_t))
            else:
                values = unit.pattern.values(self.step)
            if self.value_filter is not None:
                values = self.value_filter(unit.sensor_id, values)
            sent = unit.register_map.encode(values)
            registers = sent.registers
            for start, n in unit.spans:
                block = [registers.get(a, 0) for a in range(start, start + n)]
                await core.async_setValues(number, 16, start, block)
            unit.current = registers
            if self.truth is not None:
                fields, refused = unit.register_map.published(sent.carried, unit.spec.params)
                extra: dict = {"counters": sent.counters} if sent.counters else {}
                if refused:
                    extra["out_of_range"] = refused
                if unit.spec.values is not None:
                    extra["source_time"] = round(source_t * 1000)
                self.truth.write(
                    "modbus_values",
                    unit.sensor_id,
                    time=now,
                    unit=number,
                    registers={str(a): v for a, v in sorted(registers.items())},
                    fields=fields,
                    **extra,
                )
        self.step += 1


class ModbusSensorSim(ModbusBusSim):
    """A line with one Modbus RTU sensor on *device_path*."""

    def __init__(
        self,
        device_path: str,
        profile: str,
        unit: int = 1,
        seed: int = 0,
        update_interval: float = 1.0,
        truth: TruthWriter | None = None,
        sensor_id: str = "env1",
        baudrate: int = 9600,
        clock: Callable[[], float] = time.time,
        params: Mapping[str, float] | None = None,
        firmware: str | None = DEFAULT_FIRMWARE,
    ) -> None:
        spec = SimSpec(unit, profile, seed, dict(params or {}), sensor_id, firmware=firmware)
        super().__init__(
            device_path,
            [spec],
            update_interval=update_interval,
            truth=truth,
            baudrate=baudrate,
            clock=clock,
        )
        self.unit = unit
        self.sensor_id = sensor_id
        self._only = self.units[unit]

    @property
    def register_map(self) -> RegisterMap:
        return self._only.register_map

    @property
    def pattern(self) -> RegisterPattern:
        return self._only.pattern

    @property
    def current(self) -> dict[int, int]:
        return self._only.current
