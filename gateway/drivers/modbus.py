"""Modbus RTU sensors over RS-485, described by register-map profiles (gateway/profiles/).

The driver polls one unit every ``poll_interval`` (aligned to multiples of the interval on
the gateway clock): it reads the blocks planned by the profile with pymodbus' synchronous
serial client, decodes them with the profile's pure decoders and hands one reading to the
sink. pymodbus drops a bad answer silently and reports "no response", so the driver keeps
the raw bytes of the last answer and lets the pure frame core (:mod:`gateway.modbus_frames`)
say what was wrong with it. Device states:

- ``timeout``: nothing came back (after ``retries`` retries).
- ``crc_error``: bytes came back, but with a bad CRC, cut short, or as garbage.
- ``decode_error``: a valid frame from another unit or of the wrong length, or values that
  do not decode (NaN, infinity; the finite ones are still published).
- ``error``: the device answered with a Modbus exception (e.g. illegal data address: wrong
  profile or unit), or the port exists but cannot be opened.
- ``unplugged``: the port path is gone or the port fails with an I/O error; the driver
  closes it and tries again every ``reopen_interval``.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from typing import Literal

from pydantic import Field, ValidationError
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from gateway.drivers.base import Clock, DeviceConfig, Driver, SerialPort, Sink
from gateway.modbus_frames import ModbusFrameError, parse_read_response
from gateway.profile import ProfileDecodeError, compile_profile, load_profile
from telemetry.models import DeviceState, Reading


class ModbusConfig(DeviceConfig):
    driver: Literal["modbus"]
    serial: SerialPort
    unit: int = Field(1, ge=1, le=247, description="Modbus slave address")
    profile: str = Field(description="profile name in gateway/profiles, or a path to a .toml")
    poll_interval: float = Field(5.0, ge=0.2, le=3600, description="seconds between polls")
    retries: int = Field(2, ge=0, le=10, description="retries of a request without answer")


#: Device state for each reason the frame core gives.
STATE_OF_REASON: dict[str, DeviceState] = {
    "crc_error": "crc_error",
    "truncated": "crc_error",
    "garbage": "crc_error",
    "wrong_unit": "decode_error",
    "wrong_length": "decode_error",
    "exception": "error",
}


class _Failure(Exception):
    """One failed poll: the device state it means and a message for people."""

    def __init__(self, state: DeviceState, message: str) -> None:
        self.state: DeviceState = state
        super().__init__(message)


class _RecordingClient(ModbusSerialClient):
    """pymodbus' sync serial client that keeps the raw bytes received since the last request,
    so that an answer pymodbus rejected can be classified by the pure frame core."""

    def __init__(self, port: str, **kwargs: object) -> None:
        super().__init__(port, **kwargs)  # type: ignore[arg-type]
        self.rx = bytearray()

    def send(self, request: bytes, addr: tuple | None = None) -> int:
        self.rx.clear()
        return super().send(request, addr)

    def recv(self, size: int | None) -> bytes:
        data = super().recv(size)
        self.rx += data
        return data


class ModbusDriver(Driver):
    """Polls one Modbus RTU unit described by a profile. Owns its serial port."""

    config: ModbusConfig

    def __init__(self, config: ModbusConfig, sink: Sink, clock: Clock = time.time) -> None:
        super().__init__(config, sink, clock)
        # Raises jagajalan.config.ConfigError at start for a missing or broken profile.
        self.profile = compile_profile(load_profile(config.profile))
        self._client: _RecordingClient | None = None
        self.polls = 0  # successful polls

    # -- loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                stop.wait(self._step())
        except Exception as exc:  # never raise out of run(); a bug, so keep the traceback
            self.log.exception("device %s: driver stopped by an unexpected error", self.config.id)
            with contextlib.suppress(Exception):
                self.set_state("error", f"driver failure: {exc!r}")
        finally:
            self._close()

    def _step(self) -> float:
        """Open the port if needed and poll once; return the seconds to wait before the next."""
        try:
            if self._client is None and not self._open():
                return self.config.reopen_interval
            self.poll()
        except _Failure as failure:
            if failure.state == "unplugged":
                self._close()
                self._mark(failure.state, str(failure))
                return self.config.reopen_interval
            self.set_state(failure.state, str(failure))
        except Exception as exc:  # a bug: log it with its traceback, keep the driver alive
            self.log.exception("device %s: unexpected error while polling", self.config.id)
            self.set_state("error", f"unexpected error: {exc!r}")
            self._close()
            return self.config.reopen_interval
        return self._until_next_poll()

    def _until_next_poll(self) -> float:
        interval = self.config.poll_interval
        now = self.clock()
        return interval - (now % interval)

    def _mark(self, state: DeviceState, message: str) -> None:
        """set_state for conditions that persist across retries: counted once, not per try."""
        if self.state != state:
            self.set_state(state, message)

    # -- port ---------------------------------------------------------------------------------
    def _open(self) -> bool:
        port = self.config.serial
        if not os.path.exists(port.port):
            self._mark("unplugged", f"{port.port} does not exist")
            return False
        client = _RecordingClient(
            port.port,
            baudrate=port.baudrate,
            bytesize=port.bytesize,
            parity=port.parity,
            stopbits=port.stopbits,
            timeout=port.timeout,
            retries=self.config.retries,
            name=self.config.id,
        )
        if not client.connect():
            client.close()
            self._mark("error", f"cannot open {port.port} (permissions, or in use?)")
            return False
        self._client = client
        self.log.info("device %s: opened %s", self.config.id, port.port)
        return True

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    # -- one poll -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Read every planned block, decode, and hand one reading to the sink.
        Raises :class:`_Failure` for device failures."""
        started = self.clock()
        blocks = [self._read_block(start, count) for start, count in self.profile.blocks]
        try:
            values = self.profile.decode(self.profile.registers_of(blocks))
        except ProfileDecodeError as exc:
            raise _Failure("decode_error", f"decode failed: {exc}") from None
        fields = {name: v for name, v in values.items() if math.isfinite(v)}
        bad = {name: v for name, v in values.items() if name not in fields}
        if not fields:
            raise _Failure("decode_error", f"no finite value: {bad}")
        try:
            reading = Reading(
                sensor=self.config.id,
                measurement=self.profile.measurement,
                time=round(started * 1000),
                fields=fields,
            )
        except ValidationError as exc:  # e.g. the gateway clock is unset (1970)
            raise _Failure("error", f"reading refused: {exc.errors()[0]['msg']}") from None
        if bad:
            self.set_state("decode_error", f"non-finite values dropped: {bad}")
        else:
            self.set_state("ok")
        self.polls += 1
        self.sink([reading])

    def _read_block(self, start: int, count: int) -> list[int]:
        client = self._client
        assert client is not None
        unit = self.config.unit
        fc = self.profile.function_code
        read = client.read_holding_registers if fc == 3 else client.read_input_registers
        where = f"unit {unit}, {count} register(s) at {start}, FC {fc}"
        try:
            response = read(start, count=count, device_id=unit)
        except ModbusIOException:
            raise self._classify(bytes(client.rx), start, count, where) from None
        except (ConnectionException, OSError) as exc:
            raise _Failure("unplugged", f"I/O error on {self.config.serial.port}: {exc}") from None
        if response.isError():
            raise self._classify(bytes(client.rx), start, count, where)
        registers = list(response.registers)
        if len(registers) != count:
            raise _Failure("decode_error", f"{len(registers)} registers received ({where})")
        return registers

    def _classify(self, raw: bytes, start: int, count: int, where: str) -> _Failure:
        """The device state for an answer pymodbus did not accept, judged by the frame core."""
        if not raw:
            tries = self.config.retries + 1
            return _Failure("timeout", f"no answer ({where}; {tries} tries)")
        try:
            parse_read_response(raw, self.config.unit, self.profile.function_code, count)
        except ModbusFrameError as exc:
            return _Failure(STATE_OF_REASON[exc.reason], f"{exc} ({where})")
        return _Failure("error", f"answer not accepted: {raw.hex(' ')} ({where})")
