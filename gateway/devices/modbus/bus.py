"""One owner per RS-485 bus: every Modbus request on a serial port goes through one object.

Several Modbus devices (units) usually hang on one RS-485 pair. Each device still has its own
driver thread, poll interval, timeout and retries, but all of them talk through the single
:class:`ModbusBus` of their port, which holds the one open serial port and a FIFO lock:

- one request/answer exchange at a time (no interleaved requests, STYLE.md section 5);
- the lock is held for **one attempt** only (request, answer or its timeout), never across a
  device's retries, and waiters are served in arrival order: a silent unit delays its bus
  neighbours by at most one of its timeouts per attempt;
- the Modbus inter-frame silence (3.5 characters) is kept between exchanges, and after a
  damaged answer the line is drained until it goes quiet, so the rest of a bad answer cannot
  land in the next device's exchange;
- an adapter that echoes its own transmission is handled: a leading copy of the request is
  dropped (:func:`gateway.devices.modbus.frames.answer_needs`);
- an I/O error closes the port for everyone on the bus; the next request reopens it, and
  :attr:`ModbusBus.generation` counts the opens so drivers can tell a reconnect.

**How buses are shared.** A :class:`BusPool` maps ports to buses. Two configured ports are
the same bus when their absolute paths are equal, or when both exist and resolve (symlinks
such as ``/dev/serial/by-id/...``) to the same device. Drivers use the per-process pool
:data:`BUS_POOL` unless given another (tests give their own). A driver joins its bus when it
is built (that is when clashing serial settings are refused, naming both devices) and leaves
it when its ``run`` ends; the port is closed when no driver on it runs any more.

The frame work is done by the pure :mod:`gateway.devices.modbus.frames`; this module is the I/O
glue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import termios
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import serial

from gateway.devices.base import Problem, SerialPort, io_problem, open_problem
from gateway.devices.modbus.bus_config import (
    BUS_KEYS,
    bus_key,
    bus_problems,
    bus_settings,
    clashes,
    real_path,
)
from gateway.devices.modbus.frames import (
    ModbusFrameError,
    answer_needs,
    build_read_request,
    echo_pending,
    parse_read_response,
    response_length,
    strip_echo,
)
from kernel.config import ConfigError
from kernel.portclaim import claims_dir, read_claim

__all__ = [
    "BUS_KEYS",
    "BUS_POOL",
    "BusError",
    "BusPool",
    "BusTimeout",
    "BusUnavailable",
    "BusUnplugged",
    "ModbusBus",
    "bus_key",
    "bus_problems",
]

log = logging.getLogger(__name__)


class BusError(Exception):
    """A failed exchange; :attr:`state` is the device state it means, :attr:`problem` the
    same for people (:data:`gateway.devices.base.Problem`)."""

    state = "error"

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


class BusUnplugged(BusError):
    """The port is gone (path missing, or an I/O error): reopen later."""

    state = "unplugged"


class BusUnavailable(BusError):
    """The port exists but will not open (permissions, in use by another program)."""

    state = "error"


class BusTimeout(BusError):
    """Nothing came back within the timeout."""

    state = "timeout"


def _complete(answer: bytes, function: int) -> bool:
    try:
        total = response_length(answer, function)
    except ModbusFrameError:
        return False
    return total is not None and len(answer) >= total


class _FifoLock:
    """A lock granted in the order it was asked for (threading.Lock makes no promise)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


@dataclass
class _Member:
    device_id: str
    port: SerialPort
    unit: int
    owner: weakref.ref
    running: int = 0


class ModbusBus:
    """The owner of one serial port carrying Modbus RTU: use :meth:`read_registers`."""

    def __init__(self, port: SerialPort) -> None:
        self.port = port.port
        self.serial_port = port
        self.generation = 0  # times the port was opened
        self.exchanges = 0
        self._lock = _FifoLock()
        self._serial: serial.Serial | None = None
        self._quiet_until = 0.0
        self.members: dict[str, _Member] = {}
        self._members_lock = threading.Lock()
        self.claims = claims_dir()  # where flashing tools claim ports (kernel/portclaim.py)

    # -- requests ---------------------------------------------------------------------------
    def read_registers(
        self, unit: int, function: int, address: int, count: int, timeout: float
    ) -> list[int]:
        """Read *count* registers (FC 3 or 4) from *unit*: one attempt, no retry. Raises
        :class:`BusError` subclasses or :class:`ModbusFrameError` (the answer's fault)."""
        request = build_read_request(unit, function, address, count)
        answer = self.exchange(request, function, timeout)
        if not answer:
            raise BusTimeout(f"no answer within {timeout:g} s")
        return parse_read_response(answer, unit, function, count)

    def exchange(self, request: bytes, function: int, timeout: float) -> bytes:
        """Send *request* and return the bytes of the answer (empty: nothing came back)."""
        with self._lock.turn():
            claim = read_claim(self.port, self.claims)
            if claim is not None:  # lent to a flashing tool (kernel/portclaim.py)
                self._close()
                by = str(claim.get("by", "?"))
                raise BusUnavailable(
                    f"{self.port} lent to {by} for flashing",
                    ("port_released", {"port": self.port, "by": by}),
                )
            ser = self._open()
            try:
                return self._exchange(ser, request, function, timeout)
            except (OSError, serial.SerialException, termios.error) as exc:
                self._close()
                raise BusUnplugged(
                    f"I/O error on {self.port}: {exc}", io_problem(self.port)
                ) from None

    def _exchange(self, ser: serial.Serial, request: bytes, function: int, timeout: float):
        self.exchanges += 1
        wait = self._quiet_until - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ser.reset_input_buffer()
        ser.write(request)
        deadline = time.monotonic() + timeout
        received = bytearray()
        while True:
            want = answer_needs(bytes(received), request, function)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if want <= 0:  # complete; or the start of an echo, if the line goes on at once
                want = echo_pending(bytes(received), request)
                if not want:
                    break
                remaining = min(remaining, max(2 * self.gap, 0.005))
            ser.timeout = remaining
            chunk = ser.read(want)
            if not chunk:
                break
            received += chunk
        answer = strip_echo(bytes(received), request)
        if answer and not _complete(answer, function):
            self._drain(ser, timeout)  # let the rest of a damaged answer go by
        self._quiet_until = time.monotonic() + self.gap
        return answer

    def _drain(self, ser: serial.Serial, limit: float) -> None:
        """Wait (at most *limit* seconds) until the line is quiet, then drop what came."""
        end = time.monotonic() + limit
        ser.timeout = max(4 * self.gap, 0.05)  # quiet this long: the noise is over
        while time.monotonic() < end and ser.read(256):
            pass
        ser.reset_input_buffer()

    @property
    def gap(self) -> float:
        """The Modbus RTU inter-frame silence: 3.5 characters (1.75 ms above 19200 baud)."""
        p = self.serial_port
        if p.baudrate > 19200:
            return 0.00175
        bits = 1 + p.bytesize + (p.parity != "N") + p.stopbits
        return 3.5 * bits / p.baudrate

    # -- the port ---------------------------------------------------------------------------
    def _open(self) -> serial.Serial:
        if self._serial is not None:
            return self._serial
        p = self.serial_port
        if not os.path.exists(p.port):
            raise BusUnplugged(f"{p.port} does not exist", ("port_gone", {"port": p.port}))
        try:
            ser = serial.Serial(
                p.port,
                baudrate=p.baudrate,
                bytesize=p.bytesize,
                parity=p.parity,
                stopbits=p.stopbits,
                timeout=p.timeout,
                write_timeout=max(1.0, p.timeout),
                exclusive=True,
            )
        except (OSError, ValueError, serial.SerialException, termios.error) as exc:
            # termios.error: the port refused the settings (a pseudo-terminal refuses parity)
            if not os.path.exists(p.port):
                gone: Problem = ("port_gone", {"port": p.port})
                raise BusUnplugged(f"{p.port} does not exist", gone) from None
            why = "in use by another program?" if "lock" in str(exc) else "permissions?"
            problem = open_problem(p.port, getattr(exc, "errno", None), str(exc))
            raise BusUnavailable(f"cannot open {p.port} ({why}): {exc}", problem) from None
        self._serial = ser
        self.generation += 1
        log.info(
            "bus %s: opened (%d baud %d%s%d)", p.port, p.baudrate, p.bytesize, p.parity, p.stopbits
        )
        return ser

    def _close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.close()

    def close(self) -> None:
        """Close the port (waits for the exchange in progress). The next request reopens it."""
        with self._lock.turn():
            self._close()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    # -- who is on the bus ------------------------------------------------------------------
    def live_members(self) -> list[_Member]:
        with self._members_lock:
            return [m for m in self.members.values() if m.owner() is not None or m.running]


class BusPool:
    """The buses of one process, by port. See the module docstring for the rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buses: dict[str, ModbusBus] = {}

    def bus_for(self, port: SerialPort) -> ModbusBus | None:
        """The bus already known for *port*, if any (by path, then by resolved device)."""
        with self._lock:
            return self._find(port.port)

    def _find(self, port: str) -> ModbusBus | None:
        bus = self._buses.get(bus_key(port))
        if bus is None and (real := real_path(port)) is not None:
            # Another spelling of the same device (a by-id symlink): compared now, since a
            # replugged adapter or a reused pty number changes what a path resolves to.
            bus = next((b for b in self._buses.values() if real_path(b.port) == real), None)
        return bus

    def _prune(self) -> None:
        """Forget buses nobody is on any more (their drivers were stopped or collected)."""
        for key, bus in list(self._buses.items()):
            if not bus.live_members() and not bus.is_open:
                del self._buses[key]

    def join(self, owner: object, device_id: str, port: SerialPort, unit: int) -> ModbusBus:
        """Put device *device_id* (its driver is *owner*) on the bus of *port*. Raises
        :class:`ConfigError` when a live device on that bus has other serial settings or the
        same unit."""
        with self._lock:
            self._prune()
            bus = self._find(port.port)
            if bus is None:
                bus = ModbusBus(port)
                self._buses[bus_key(port.port)] = bus
            others = [m for m in bus.live_members() if m.device_id != device_id]
            found = clashes(port, unit, [(m.device_id, m.port, m.unit) for m in others])
            if found:
                problems = [
                    (f"devices[id={device_id}].{k}", v, f"device {device_id!r} {m}")
                    for k, v, m in found
                ]
                raise ConfigError("gateway config", problems)
            if not others and bus_settings(bus.serial_port) != bus_settings(port):
                bus.close()  # the devices that set it up are gone: take the new settings
                bus.serial_port = port
            with bus._members_lock:
                bus.members[device_id] = _Member(device_id, port, unit, weakref.ref(owner))
            return bus

    def attach(
        self, bus: ModbusBus, owner: object, device_id: str, port: SerialPort, unit: int
    ) -> None:
        """A driver's run() begins: it is (again) on the bus, running."""
        with bus._members_lock:
            member = bus.members.get(device_id)
            if member is None or member.owner() is not owner:
                member = bus.members[device_id] = _Member(device_id, port, unit, weakref.ref(owner))
            member.running += 1

    def leave(self, bus: ModbusBus, device_id: str) -> None:
        """A driver's run() ended: it leaves the bus; the last one out closes the port."""
        with bus._members_lock:
            bus.members.pop(device_id, None)
            running = any(m.running for m in bus.members.values())
        if not running:
            bus.close()


#: The buses of this process. Drivers use it unless given a pool of their own.
BUS_POOL = BusPool()
