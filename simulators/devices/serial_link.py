"""A virtual null-modem cable: two pseudo-terminals joined back to back.

The gateway opens :attr:`SerialLink.path` with pyserial exactly as it would open
``/dev/ttyUSB0``; the emulated device opens :attr:`SerialLink.device_path` (or uses
:meth:`read`/:meth:`write`). A relay thread copies bytes between the two pty masters, which
is also where faults can be injected later. :meth:`unplug` makes the gateway's path vanish
(reads fail, the symlink is gone) and :meth:`replug` brings it back at the same path.

A pseudo-terminal moves bytes whatever speed is set on it. To make baud rates matter (for
baud detection in ``jagajalan gateway scan``), give the link the device's line speed:
``SerialLink(path, baudrate=19200)``. While the gateway side's termios speed (read with
``tcgetattr`` on the gateway-side pty, where pyserial sets it) differs from it, the relay
garbles the bytes in both directions, as a UART at the wrong speed would (framing errors:
about half of the bytes lost, the rest wrong), so a device never sees a valid request and the
gateway never a valid answer. Without ``baudrate`` the link ignores speeds, as before.
Parity cannot be emulated this way: the Linux pty driver does not keep the parity flags.
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


def garble(data: bytes) -> bytes:
    """What a UART at the wrong speed makes of *data*: every other byte lost, the rest wrong.
    Deterministic; ``$`` never survives (so no ASCII record does) and a Modbus frame loses
    its CRC, so a valid frame could only appear by a 1-in-65536 chance."""
    return bytes(b ^ 0xA5 for b in data[1::2])


class SerialLink:
    def __init__(self, path: str | Path, baudrate: int | None = None) -> None:
        """*path* is where the gateway side appears (a symlink to a /dev/pts/N).

        *baudrate*: the device's line speed; when set, bytes are garbled while the gateway
        side's speed differs from it (see the module docstring). None: speeds are ignored.
        """
        self.path = str(path)
        if baudrate is not None and not hasattr(termios, f"B{baudrate}"):
            raise ValueError(f"baudrate {baudrate} is not a speed termios knows")
        self.baudrate = baudrate
        self._speed = None if baudrate is None else getattr(termios, f"B{baudrate}")
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
                if data and self._speed is not None and not self._speeds_match():
                    self.garbled += 1
                    data = garble(data)
                if out is None or not data:
                    continue  # unplugged: bytes fall on the floor, as on a real cable
                with contextlib.suppress(OSError):
                    os.write(out, data)

    def _speeds_match(self) -> bool:
        """True if the gateway side is set to the device's speed (relay thread only)."""
        if self._gw is None:
            return True  # unplugged: nothing reaches the gateway anyway
        try:
            attrs = termios.tcgetattr(self._gw[1])
        except termios.error:
            return False
        return attrs[4] == self._speed and attrs[5] == self._speed

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
