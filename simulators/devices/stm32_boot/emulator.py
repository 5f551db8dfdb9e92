"""An emulated STM32 in its system bootloader on a pseudo-terminal, with a noisy line.

:class:`Stm32BootSim` runs the pure :class:`~simulators.devices.stm32_boot.protocol.Bootloader`
on the device side of a :class:`~simulators.devices.serial_link.SerialLink`: the flashing tool
opens ``link.path`` exactly as it would open ``/dev/ttyUSB0``. The emulator's memory
(:attr:`Stm32BootSim.memory`) is what a test compares with the image it flashed.

Faults (:class:`Noise`, seeded, so a run can be repeated):

- ``byte_error_rate``: each byte on the line, in either direction, is replaced by another
  value with this probability (a noisy RS-232/TTL cable): the part sees a bad checksum and
  answers NACK, or the host reads a wrong ACK or wrong data;
- ``nack_rate``: each valid command is answered NACK with this probability.

:attr:`Stm32BootSim.injected` counts what was injected, so a test can show that the faults
happened. A pty carries no parity (see serial_link.py): the emulated line is 8N1, where a real
bootloader line is 8E1, so the flasher is run with ``parity="N"`` against it.

Usage::

    with SerialLink(tmp / "ttyNODE", baudrate=115200) as link, Stm32BootSim(link) as sim:
        ...  # flash link.path; then compare sim.memory.flash_at(0x08000000, len(image))
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot.chip import ChipProfile, Memory
from simulators.devices.stm32_boot.protocol import Bootloader


@dataclass(frozen=True)
class Noise:
    byte_error_rate: float = 0.0
    nack_rate: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("byte_error_rate", "nack_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value!r}: give a probability from 0 to 1")


@dataclass
class Injected:
    byte_errors: int = 0
    nacks: int = 0
    to_device: int = field(default=0)  # of the byte errors, how many the part received


class Stm32BootSim:
    def __init__(
        self,
        link: SerialLink,
        chip: ChipProfile | None = None,
        noise: Noise | None = None,
    ) -> None:
        self.link = link
        self.noise = noise or Noise()
        self.injected = Injected()
        self._rng = random.Random(self.noise.seed)
        self._lock = threading.Lock()  # the relay thread and the emulator thread share _rng
        self.bootloader = Bootloader(chip, nack=self._inject_nack)
        self.memory: Memory = self.bootloader.memory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        if self.noise.byte_error_rate:
            link.to_device = self._corrupter(to_device=True)
            link.to_gateway = self._corrupter(to_device=False)

    # -- faults -----------------------------------------------------------------------------
    def _corrupter(self, to_device: bool) -> Callable[[bytes], bytes]:
        rate = self.noise.byte_error_rate

        def corrupt(data: bytes) -> bytes:
            out = bytearray(data)
            with self._lock:
                for i in range(len(out)):
                    if self._rng.random() < rate:
                        out[i] ^= self._rng.randrange(1, 256)
                        self.injected.byte_errors += 1
                        self.injected.to_device += to_device
            return bytes(out)

        return corrupt

    def _inject_nack(self, code: int) -> bool:
        if not self.noise.nack_rate:
            return False
        with self._lock:
            hit = self._rng.random() < self.noise.nack_rate
        self.injected.nacks += hit
        return hit

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._fd = self.link.open_device()
        tty.setraw(self._fd)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim:stm32-boot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def reset(self) -> None:
        """BOOT0 high and reset: the part is back in its bootloader, memory kept."""
        self.bootloader.reset()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        fd = self._fd
        assert fd is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            answer = self.bootloader.feed(data)
            view = memoryview(answer)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except OSError:
                    return
