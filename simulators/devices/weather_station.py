"""An emulated Vaisala WXT5xx-style weather station (docs/protocol.md 5.3) on a pty.

The weather is a seeded model of Sarolangun (docs: ../shared/DOMAIN.md): air 23-34 °C with
the daily cycle in WIB (coolest before dawn, hottest about 14:00), humidity 60-100 % moving
against the temperature, a small semidiurnal pressure tide around 1009 hPa, an afternoon
breeze, and convective showers that start most afternoons (13:00-19:00 WIB) and add to the
rain accumulator ``Rc``. ``time_scale`` runs the model faster than real time (3600: each real
second is an hour of weather), ``storm=True`` makes it rain all the time (tests, demos).

Modes, as on the real station:

- ``poll``: the station answers ``<a>R0\\r\\n`` with a composite message; ``<a>r0<crc>\\r\\n``
  (lower-case ``r``, correct CRC) gets an answer with a CRC; a query with a wrong CRC gets
  ``<a>tX,Use chksum <crc>`` (the WXT's hint). Other addresses are ignored.
- ``stream``: the station sends a composite message every ``interval`` seconds, with a CRC if
  ``crc=True``.

``units`` sets the station's unit letters, e.g. ``{"wind": "K", "temperature": "F",
"pressure": "I", "rain": "I"}``; ``invalid_keys`` are sent as ``#`` (``Ta=#C``);
``silent = True`` makes the station stop talking; :meth:`reset_rain` zeroes the accumulator;
``echo=True`` sends every command back first, as an RS-485 adapter with local echo does.
Sentences and their CRC are written by the emulator's own :mod:`simulators.devices.wire.wxt`.
Every sentence sent is recorded as truth with the physical values it carries, in the units
of docs/protocol.md table 2.2 (the emulator's own conversion back from the written number,
4 decimals)::

    {"kind": "weather_values", "device": "wx1", "time": <ms>, "line": "0R0,...\\r\\n",
     "wind_direction": 283.0, "wind_speed": 1.0, "temperature": 23.6, "humidity": 54.2,
     "pressure": 1006.6, "rain_total": 0.0, "rain_intensity": 0.0}
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import select
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from simulators.devices.serial_device import SerialDeviceSim
from simulators.devices.wire import wxt
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

WIB_OFFSET_S = 7 * 3600


@dataclass(frozen=True)
class WeatherState:
    wind_direction: float  # degrees
    wind_speed: float  # m/s
    temperature: float  # °C
    humidity: float  # % RH
    pressure: float  # hPa
    rain_total: float  # mm since the accumulator was reset
    rain_intensity: float  # mm/h


class WeatherModel:
    """Seeded Sarolangun weather; :meth:`step` advances it by *dt_s* seconds of model time."""

    def __init__(self, seed: int = 0, *, storm: bool = False) -> None:
        self.rng = random.Random(f"weather-station:{seed}")
        self.storm = storm
        self.direction = self.rng.uniform(0, 360)
        self.rain_total = 0.0
        self._shower_left = 0.0  # seconds of shower remaining
        self._shower_rate = 0.0  # mm/h

    def step(self, now_s: float, dt_s: float) -> WeatherState:
        rng = self.rng
        hour = ((now_s + WIB_OFFSET_S) / 3600.0) % 24.0
        if self._shower_left <= 0 and (
            self.storm or (13 <= hour < 19 and rng.random() < dt_s / 5400.0)
        ):
            self._shower_left = rng.uniform(1200, 5400)
            self._shower_rate = rng.uniform(5.0, 60.0)
        raining = self._shower_left > 0
        intensity = max(0.5, self._shower_rate * rng.uniform(0.6, 1.4)) if raining else 0.0
        if raining:
            self._shower_left -= dt_s
            self.rain_total += intensity * dt_s / 3600.0
        temperature = 28.5 + 5.5 * math.cos(2 * math.pi * (hour - 14) / 24)
        temperature += rng.gauss(0, 0.3) - (2.5 if raining else 0.0)
        temperature = min(34.0, max(23.0, temperature))
        humidity = 100.0 - (temperature - 23.0) / 11.0 * 40.0 + rng.gauss(0, 1.5)
        humidity = min(100.0, max(60.0, humidity + (12.0 if raining else 0.0)))
        pressure = 1009.0 + 1.2 * math.cos(2 * math.pi * (hour - 10) / 12) + rng.gauss(0, 0.2)
        breeze = 2.5 * max(0.0, math.sin(math.pi * (hour - 9) / 12))
        speed = max(0.0, 1.0 + breeze + (2.0 if raining else 0.0) + rng.gauss(0, 0.6))
        self.direction = (self.direction + rng.gauss(0, 12)) % 360
        return WeatherState(
            wind_direction=self.direction,
            wind_speed=speed,
            temperature=temperature,
            humidity=humidity,
            pressure=pressure,
            rain_total=self.rain_total,
            rain_intensity=intensity,
        )


def encode(
    state: WeatherState, units: Mapping[str, str], invalid: Collection[str] = ()
) -> list[tuple[str, str]]:
    """The (key, value-with-unit) items of a composite message, as the station writes them;
    *units* maps wind/temperature/pressure/rain to unit letters (defaults: M, C, H, M)."""
    units = {**wxt.DEFAULT_UNITS, **units}

    def item(key: str, text: str) -> tuple[str, str]:
        return key, "#" + text[-1] if key in invalid else text

    def scaled(key: str, group: str, value: float, fewer_decimals: int = 0) -> tuple[str, str]:
        return item(key, wxt.written(group, units[group], value, fewer_decimals))

    return [
        item("Dm", f"{round(state.wind_direction) % 360:03d}D"),
        scaled("Sm", "wind", state.wind_speed),
        scaled("Ta", "temperature", state.temperature),
        item("Ua", f"{state.humidity:.1f}P"),
        scaled("Pa", "pressure", state.pressure),
        scaled("Rc", "rain", state.rain_total),
        scaled("Ri", "rain", state.rain_intensity, fewer_decimals=1),
        ("Hc", "0.0M"),  # hail: sent by the station, not published by the gateway
    ]


def physical_values(items: list[tuple[str, str]]) -> dict[str, float]:
    """What the written items stand for, in the units of table 2.2 with the protocol's 4
    decimals (``#`` values and unpublished keys left out)."""
    values = {}
    for key, text in items:
        value = wxt.value_of(key, text)
        if value is not None:
            values[wxt.KEYS[key][0]] = value
    return values


class WeatherStationSim(SerialDeviceSim):
    open_flags = os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK

    def __init__(
        self,
        device_path: str,
        sensor_id: str = "wx1",
        seed: int = 0,
        *,
        address: str = "0",
        mode: Literal["poll", "stream"] = "poll",
        interval: float = 1.0,
        crc: bool = False,
        units: Mapping[str, str] | None = None,
        invalid_keys: Collection[str] = (),
        time_scale: float = 1.0,
        storm: bool = False,
        answer_delay: float = 0.03,
        echo: bool = False,
        truth: TruthWriter | None = None,
        clock: Callable[[], float] = time.time,
        source: Callable[[float], WeatherState] | None = None,
        source_clock: Callable[[], float] | None = None,
        value_filter: Callable[[str, dict[str, float]], dict[str, float]] | None = None,
    ) -> None:
        """*source(t)*: value hook giving the weather at time *t* of *source_clock* (e.g. a
        scenario's; default *clock*) instead of the seeded model. *value_filter(sensor_id,
        values)* rewrites the values before they are encoded (fault injection)."""
        self.units = {**wxt.DEFAULT_UNITS, **(units or {})}
        for group, unit in self.units.items():
            if unit not in wxt.UNITS.get(group, {}):
                raise ValueError(f"unit {unit!r} for {group!r} is not supported")
        if mode not in ("poll", "stream") or interval <= 0 or time_scale <= 0:
            raise ValueError("mode must be poll or stream, interval and time_scale > 0")
        self.device_path = device_path
        self.sensor_id = sensor_id
        self.address = address
        self.mode = mode
        self.interval = interval
        self.crc = crc
        self.invalid_keys = set(invalid_keys)
        self.time_scale = time_scale
        self.answer_delay = answer_delay
        self.echo = echo
        self.truth = truth
        self.clock = clock
        self.model = WeatherModel(seed, storm=storm)
        self.source = source
        self.source_clock = source_clock or clock
        self.value_filter = value_filter
        self.silent = False
        self.sent = 0  # data messages sent
        self.queries = 0  # valid queries for this address received
        self._last_step: float | None = None
        self._init_device()

    def __repr__(self) -> str:
        return f"WeatherStationSim({self.sensor_id!r}, {self.device_path!r}, {self.mode})"

    def reset_rain(self) -> None:
        """Zero the rain accumulator, as the station's ``aXZRU`` command or a power cycle."""
        self.model.rain_total = 0.0
        if self.truth is not None:
            self.truth.write("rain_reset", self.sensor_id, time=int(self.clock() * 1000))

    # -- output -----------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Write *data* as is (garbage, corrupt sentences), never inside another line."""
        with self._write_lock:
            if self._fd is None:
                raise RuntimeError("simulator is not started")
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self._fd, view) :]
                except BlockingIOError:
                    select.select([], [self._fd], [], 0.1)

    def send_message(self, *, crc: bool) -> bytes:
        """Advance the weather and send one composite message; return the line."""
        now = self.clock()
        dt = 1.0 if self._last_step is None else max(0.0, now - self._last_step)
        self._last_step = now
        extra: dict[str, int] = {}
        if self.source is not None:
            source_t = self.source_clock()
            state = self.source(source_t)
            extra["source_time"] = round(source_t * 1000)
        else:
            state = self.model.step(now, dt * self.time_scale)
        if self.value_filter is not None:
            state = WeatherState(**self.value_filter(self.sensor_id, asdict(state)))
        items = encode(state, self.units, self.invalid_keys)
        line = wxt.message(self.address, 0, items, crc=crc)
        self.send_raw(line)
        self.sent += 1
        if self.truth is not None:
            self.truth.write(
                "weather_values",
                self.sensor_id,
                time=int(now * 1000),
                line=line.decode("ascii"),
                **physical_values(items),
                **extra,
            )
        return line

    def _run(self) -> None:
        try:
            if self.mode == "stream":
                self._stream()
            else:
                self._serve()
        except OSError as exc:  # the pty went away under us: end quietly
            if not self._stop.is_set():
                log.warning("%r: I/O failed, stopping: %s", self, exc)

    def _stream(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due += self.interval
            if not self.silent:
                self.send_message(crc=self.crc)

    def _serve(self) -> None:
        buffer = bytearray()
        while not self._stop.is_set():
            assert self._fd is not None
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if not ready:
                continue
            with contextlib.suppress(BlockingIOError):
                buffer += os.read(self._fd, 1024)
            while b"\n" in buffer:
                raw, _, rest = bytes(buffer).partition(b"\n")
                buffer[:] = rest
                if self.echo:  # an RS-485 adapter with local echo
                    self.send_raw(raw + b"\n")
                self._command(raw.strip())
            del buffer[:-256]  # never grow on garbage without newlines

    def _command(self, command: bytes) -> None:
        address = self.address.encode()
        if self.silent or not command.startswith(address):
            return
        if command == address + b"R0":
            crc = False
        elif command[: len(address) + 2] == address + b"r0" and len(command) == len(address) + 5:
            body, given = command[:-3], command[-3:]
            expected = wxt.crc_text(body)
            if given != expected:
                self.send_raw(wxt.chksum_hint(self.address, expected))
                return
            crc = True
        else:
            return  # a command this emulator does not know: the station stays quiet
        self.queries += 1
        if self.answer_delay:
            time.sleep(self.answer_delay)
        self.send_message(crc=crc)
