"""An emulated RS-485 Modbus RTU sensor: a real pymodbus RTU server on a pseudo-terminal.

The register map comes from a gateway profile (gateway/profiles/), so every sensor model the
gateway knows can be emulated without code. Values follow a seeded, deterministic pattern
that is plausible for Sarolangun, Jambi (tropical lowland): PM2.5 10-60 ug/m3 drifting slowly,
PM10 about 1.4 x PM2.5, temperature 23-34 degC with the day, humidity 60-100 %RH falling as
it warms. Step *k* of a given seed always yields the same registers, whatever the wall clock.

Every ``update_interval`` the new registers are written into the server's datastore and one
truth line is recorded, decoded with the gateway's own profile code::

    {"kind": "modbus_values", "device": "env1", "time": <ms>, "unit": 1,
     "registers": {"0": 413, ...}, "fields": {"pm25": 41.3, ...}}

Usage::

    with SerialLink(tmp / "ttyENV") as link, ModbusSensorSim(link.device_path, "pm-th-generic"):
        ...  # the gateway polls link.path
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
import time
from collections.abc import Callable

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gateway.profile import (
    WIDTH,
    CompiledProfile,
    ProfileField,
    compile_profile,
    encode_raw,
    load_profile,
    raw_from_value,
)
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

#: Virtual start of every simulated day: 2025-12-01 00:00 WIB (17:00 UTC the day before).
#: Values depend on this virtual time, never on the wall clock, so runs are reproducible.
VIRTUAL_EPOCH = 1_764_522_000
WIB = 7 * 3600

#: Plausible ranges of other documented fields (for profiles added later).
RANGES: dict[str, tuple[float, float]] = {
    "pressure": (1005.0, 1013.0),
    "rain": (0.0, 4.0),
    "wind_speed": (0.0, 6.0),
    "wind_direction": (0.0, 359.0),
    "level": (0.0, 40.0),
    "distance": (150.0, 300.0),
    "surface_temperature": (24.0, 52.0),
    "water_film": (0.0, 2.0),
    "count": (0.0, 40.0),
    "speed_mean": (20.0, 60.0),
}


class RegisterPattern:
    """Seeded, deterministic physical values and raw registers for a profile, by step."""

    def __init__(self, profile: CompiledProfile, seed: int = 0, step_seconds: float = 1.0):
        self.profile = profile
        self.seed = seed
        self.step_seconds = step_seconds
        setup = random.Random(f"modbus-pattern:{seed}")
        self.start = VIRTUAL_EPOCH + setup.randrange(24) * 3600  # virtual hour of step 0
        self.phases = {f.name: setup.uniform(0, 2 * math.pi) for f in profile.profile.fields}
        self.pm_phase = (setup.uniform(0, 2 * math.pi), setup.uniform(0, 2 * math.pi))

    def virtual_time(self, step: int) -> float:
        return self.start + step * self.step_seconds

    def values(self, step: int) -> dict[str, float]:
        """Physical values at *step* (before quantisation to registers)."""
        t = self.virtual_time(step)
        rng = random.Random(f"modbus-step:{self.seed}:{step}")
        hour = ((t + WIB) % 86400) / 3600
        day = math.cos(2 * math.pi * (hour - 14) / 24)  # 1 at 14:00 WIB, -1 at 02:00
        a, b = self.pm_phase
        pm25 = 35 + 15 * math.sin(2 * math.pi * t / 14_400 + a)
        pm25 += 5 * math.sin(2 * math.pi * t / 2_820 + b) + rng.gauss(0, 0.8)
        pm25 = _clamp(pm25, 10, 60)
        known = {
            "pm25": pm25,
            "pm10": _clamp(pm25 * 1.4 + rng.gauss(0, 1.5), 12, 90),
            "temperature": _clamp(28.5 + 5.5 * day + rng.gauss(0, 0.15), 23, 34),
            "humidity": _clamp(80 - 20 * day + rng.gauss(0, 0.6), 60, 100),
        }
        out: dict[str, float] = {}
        for f in self.profile.profile.fields:
            if f.name in known:
                out[f.name] = known[f.name]
            else:
                lo, hi = RANGES.get(f.name) or _sane_range(f)
                wave = math.sin(2 * math.pi * t / 3_600 + self.phases[f.name])
                out[f.name] = lo + (hi - lo) * (0.5 + 0.45 * wave + rng.uniform(-0.02, 0.02))
        return out

    def registers(self, step: int) -> dict[int, int]:
        """Raw registers by address at *step*."""
        values = self.values(step)
        registers: dict[int, int] = {}
        for f in self.profile.profile.fields:
            words = encode_raw(f, raw_from_value(f, values[f.name]))
            registers.update(zip(f.registers, words, strict=True))
        return registers


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def _sane_range(field: ProfileField) -> tuple[float, float]:
    """A modest physical range for a field nobody described: small raw values."""
    raw_lo, raw_hi = (-500, 500) if field.type in ("int16", "int32") else (0, 1000)
    lo, hi = (raw * field.scale + field.offset for raw in (raw_lo, raw_hi))
    return min(lo, hi), max(lo, hi)


class _OneUnit:
    """The datastore as seen on the bus: requests for another unit get no answer at all, as
    on a real RS-485 line (pymodbus' own store would answer with an exception)."""

    def __init__(self, core, unit: int) -> None:  # core: pymodbus SimCore
        self.core = core
        self.unit = unit

    def device_ids(self) -> list[int]:
        return [self.unit]

    def _check(self, device_id: int) -> None:
        if device_id != self.unit:
            raise NoSuchIdException(f"unit {device_id} is not on this simulated line")

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        self._check(device_id)
        return await self.core.async_getValues(device_id, func_code, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int, values):
        self._check(device_id)
        return await self.core.async_setValues(device_id, func_code, address, values)


class ModbusSensorSim:
    """A Modbus RTU sensor on *device_path* (the device side of a SerialLink)."""

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
    ) -> None:
        self.device_path = device_path
        self.profile = compile_profile(load_profile(profile))
        self.unit = unit
        self.update_interval = update_interval
        self.truth = truth
        self.sensor_id = sensor_id
        self.baudrate = baudrate
        self.clock = clock
        self.pattern = RegisterPattern(self.profile, seed, update_interval)
        self.step = 0  # steps written so far
        self.current: dict[int, int] = {}
        fields = self.profile.profile.fields
        self._first = min(f.address for f in fields)
        self._end = max(f.address + WIDTH[f.type] for f in fields)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- control ----------------------------------------------------------------------------
    def start(self) -> ModbusSensorSim:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(
            target=self._thread_main, name=f"modbus-sim:{self.sensor_id}", daemon=True
        )
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

    def __enter__(self) -> ModbusSensorSim:
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
        span = self._end - self._first
        device = SimDevice(
            id=self.unit,
            simdata=[SimData(self._first, count=span, values=0, datatype=DataType.REGISTERS)],
        )
        server = ModbusSerialServer(
            device, port=self.device_path, baudrate=self.baudrate, ignore_missing_devices=True
        )
        server.context = _OneUnit(server.context, self.unit)  # type: ignore[assignment]
        await self._update(server)
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
                await self._update(server)
        finally:
            await server.shutdown()

    async def _update(self, server: ModbusSerialServer) -> None:
        """Write the next step's registers and record them in the truth, in one loop turn
        (requests are served on the same loop, so no answer mixes two steps)."""
        registers = self.pattern.registers(self.step)
        block = [registers.get(a, 0) for a in range(self._first, self._end)]
        await server.context.async_setValues(self.unit, 16, self._first, block)
        self.current = registers
        self.step += 1
        if self.truth is not None:
            self.truth.write(
                "modbus_values",
                self.sensor_id,
                time=round(self.clock() * 1000),
                unit=self.unit,
                registers={str(a): v for a, v in sorted(registers.items())},
                fields=self.profile.decode(registers),
            )
