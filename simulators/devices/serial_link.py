"""A virtual null-modem cable: two pseudo-terminals joined back to back.

The gateway opens :attr:`SerialLink.path` with pyserial exactly as it would open
``/dev/ttyUSB0``; the emulated device opens :attr:`SerialLink.device_path` (or uses
:meth:`read`/:meth:`write`). A relay thread copies bytes between the two pty masters, which
is also where faults can be injected later. :meth:`unplug` makes the gateway's path vanish
(reads fail, the symlink is gone) and :meth:`replug` brings it back at the same path.

Line settings. A real UART at the wrong speed or parity receives garbage, so an emulated device
answers only when the gateway side is set the way the device is. A link has the device's line
settings (:class:`Line`, default 9600 8N1); the relay reads the settings the gateway applied
(``tcgetattr`` on the gateway-side pty, where pyserial's ``tcsetattr`` lands) and, while they do
not match, garbles the bytes (framing errors: about half of the bytes lost, the rest wrong):
the device drops what it receives with framing errors, as device firmware does, so it never
sees a request, and what it sends on its own reaches the gateway as garbage.
``SerialLink(path, baudrate=None)`` makes a link that ignores the settings (raw byte tests).

What a Linux pseudo-terminal conveys (checked with pyserial 3.5 on Linux 6.18, glibc 2.36):
the pty driver (``pty_set_termios``) keeps the speed, ``CSTOPB`` and ``PARODD`` but clears
``PARENB`` and forces ``CS8`` on every ``tcsetattr``; and glibc, reading the settings back,
reports ``EINVAL`` when a ``tcsetattr`` changed nothing but the bits the pty dropped. So:

- the speed: conveyed and compared;
- stop bits: conveyed, and a mismatch is tolerated, as on a real line (a UART checks only the
  first stop bit, so 8N1 and 8N2 talk to each other);
- data bits: not conveyed (always 8);
- parity: a gateway set to odd parity is seen (``PARODD``) and garbled against a device at
  none; even parity looks like none. But pyserial cannot run with parity on a pty at all: once
  the port is at E or O, every further ``tcsetattr`` it makes at the same speed (reopening,
  or changing the read timeout, which the Modbus bus does on each request) fails with
  ``EINVAL``. So a gateway configured with parity gets no valid answer from an emulated line
  either way (garbage, or a port error naming the port), and an emulated device can only use
  no parity: :data:`FRAMES` is 8N1 or 8N2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import termios
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

Filter = Callable[[bytes], bytes]


def _raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    # Non-blocking: after an unplug the relay may still hold a select() result for a closed
    # master whose descriptor number the kernel has already reused for the replugged one.
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


#: Frames an emulated line may use (data bits, parity, stop bits): what pyserial can use on a
#: pty (see the module docstring).
FRAMES = ("8N1", "8N2")


@dataclass(frozen=True)
class Line:
    """A device's serial line settings. ``baudrate=None``: a link that ignores settings."""

    baudrate: int | None = 9600
    frame: str = "8N1"

    def __post_init__(self) -> None:
        if self.baudrate is not None and not hasattr(termios, f"B{self.baudrate}"):
            raise ValueError(f"baudrate {self.baudrate} is not a speed termios knows")
        if self.frame not in FRAMES:
            raise ValueError(
                f"frame {self.frame!r}: an emulated line can be {', '.join(FRAMES)} (on a "
                "pseudo-terminal pyserial cannot use parity or 7 data bits; see "
                "docs/simulators.md)"
            )

    @property
    def bytesize(self) -> int:
        return int(self.frame[0])

    @property
    def parity(self) -> str:
        return self.frame[1]

    @property
    def stopbits(self) -> int:
        return int(self.frame[2])

    def __str__(self) -> str:
        return "any" if self.baudrate is None else f"{self.baudrate} {self.frame}"

    @classmethod
    def parse(cls, text: str) -> Line:
        """``19200`` or ``19200,8E1`` (the frame defaults to 8N1)."""
        baud, _, frame = text.strip().partition(",")
        if not baud.isdigit():
            raise ValueError(f"{text!r}: give <baud>[,<frame>], e.g. 19200 or 9600,8E1")
        return cls(int(baud), frame.strip().upper() or "8N1")


def matches(line: Line, attrs: list) -> bool:
    """Does the gateway side's termios (*attrs*, from ``tcgetattr``) let it talk to a device
    with *line*? Only what a pty conveys is compared: the speed and odd parity."""
    if line.baudrate is None:
        return True
    speed = getattr(termios, f"B{line.baudrate}")
    odd = bool(attrs[2] & termios.PARODD)
    return attrs[4] == speed and attrs[5] == speed and odd == (line.parity == "O")


def garble(data: bytes) -> bytes:
    """What a UART at the wrong speed makes of *data*: every other byte lost, the rest wrong.
    Deterministic; ``$`` never survives (so no ASCII record does) and a Modbus frame loses
    its CRC, so a valid frame could only appear by a 1-in-65536 chance."""
    return bytes(b ^ 0xA5 for b in data[1::2])


class SerialLink:
    def __init__(self, path: str | Path, baudrate: int | None = 9600, frame: str = "8N1") -> None:
        """*path* is where the gateway side appears (a symlink to a /dev/pts/N).

        *baudrate* and *frame* (e.g. ``8E1``): the device's line settings; bytes are garbled
        while the gateway side's settings differ (see the module docstring). ``baudrate=None``:
        a link that ignores settings.
        """
        self.path = str(path)
        self.line = Line(baudrate, frame)
        self.garbled = 0  # relayed chunks garbled because the speeds differed
        self.to_gateway: Filter | None = None  # optional byte filter device -> gateway
        self.to_device: Filter | None = None  # optional byte filter gateway -> device
        self._dev_master, self._dev_slave, self.device_path = _raw_pty()
        self._gw: tuple[int, int, str] | None = None
        self._stop = threading.Event()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name=f"link:{path}", daemon=True)
        self._do_replug()
        self._thread.start()

    # -- plugging ---------------------------------------------------------------------------
    # The relay thread owns every gateway-side descriptor: plugging requests are queued to it,
    # so a select() result can never refer to a descriptor closed (and its number reused)
    # by another thread.
    @property
    def plugged(self) -> bool:
        return self._gw is not None

    def unplug(self) -> None:
        """The cable is pulled: the gateway's path disappears and its open port fails."""
        self._request(self._do_unplug)

    def replug(self) -> None:
        """The cable is back: a new pty appears at the same path."""
        self._request(self._do_replug)

    def _request(self, action: Callable[[], None]) -> None:
        if not self._thread.is_alive():
            action()
            return
        done = threading.Event()
        self._requests.put((action, done))
        os.write(self._wake_w, b"x")
        done.wait(5)

    def _do_unplug(self) -> None:
        if self._gw is None:
            return
        master, slave, _ = self._gw
        self._gw = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(master)
        os.close(slave)

    def _do_replug(self) -> None:
        if self._gw is not None:
            return
        self._gw = _raw_pty()
        tmp = f"{self.path}.tmp{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(self._gw[2], tmp)
        os.replace(tmp, self.path)

    # -- device side ------------------------------------------------------------------------
    def open_device(self) -> int:
        """A new file descriptor on the device side, for an emulator that wants its own."""
        fd = os.open(self.device_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        return fd

    # -- relay ------------------------------------------------------------------------------
    def _relay(self) -> None:
        while not self._stop.is_set():
            while not self._requests.empty():
                action, done = self._requests.get()
                action()
                done.set()
            gw_master = self._gw[0] if self._gw else None
            fds = [self._dev_master, self._wake_r] + ([gw_master] if gw_master is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.5)
            except (OSError, ValueError):
                continue
            for fd in ready:
                if fd == self._wake_r:
                    os.read(self._wake_r, 64)
                    break  # handle plugging requests before touching any other descriptor
                try:
                    data = os.read(fd, 4096)
                except OSError:  # BlockingIOError included
                    continue
                if not data:
                    continue
                if fd == self._dev_master:
                    out, flt = gw_master, self.to_gateway
                else:
                    out, flt = self._dev_master, self.to_device
                if flt is not None:
                    data = flt(data)
                if data and not self._line_matches():
                    self.garbled += 1
                    # The device's UART flags every character as a framing or parity error
                    # and its firmware drops them (and an emulator's framer must not be left
                    # holding junk that a real device forgets after a frame gap); the
                    # gateway gets the garbage.
                    data = garble(data) if out == gw_master else b""
                if out is None or not data:
                    continue  # unplugged: bytes fall on the floor, as on a real cable
                with contextlib.suppress(OSError):
                    os.write(out, data)

    def _line_matches(self) -> bool:
        """True if the gateway side is set as the device is (relay thread only)."""
        if self._gw is None or self.line.baudrate is None:
            return True  # unplugged: nothing reaches the gateway anyway
        try:
            attrs = termios.tcgetattr(self._gw[1])
        except termios.error:
            return False
        return matches(self.line, attrs)

    def close(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(2)
        self._do_unplug()
        for fd in (self._dev_master, self._dev_slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> SerialLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
