"""An emulated ESP32 in its ROM serial loader (download mode) on a pseudo-terminal.

:class:`Esp32RomSim` runs the pure :class:`~simulators.devices.esp32_rom.protocol.RomLoader` on
the device side of a :class:`~simulators.devices.serial_link.SerialLink`: esptool opens
``link.path`` as it would open ``/dev/ttyUSB0``. The emulated flash (:attr:`Esp32RomSim.chip`,
``chip.flash_at(offset, n)``) is what a test compares with the image it flashed.

A pty has no DTR/RTS wired to EN and GPIO0, so the part starts in download mode (as a node
whose GPIO0 is held low while it is reset) and the flashing tool runs with esptool's
``--before no-reset --after no-reset``.

Faults (:class:`Noise`, seeded, so a run can be repeated):

- ``byte_error_rate``: each byte on the line, in either direction, is replaced by another
  value with this probability (a noisy TTL cable). The SLIP framing bytes 0xC0 and 0xDB are
  neither hit nor made, so a frame stays a frame and a hit is seen where it matters: a wrong
  block checksum (error 0x07), a wrong length (0x05), a status or digest that reads wrong on
  the host's side. (Merging two frames would cost esptool its 3 s answer timeout each time:
  real, but too slow for a test.)
- ``checksum_error_rate``: each valid FLASH_DATA block is answered "invalid CRC" (0x07)
  with this probability and not written, as the ROM answers a block damaged on the way.

:attr:`Esp32RomSim.injected` counts what was injected, so a test can show the faults happened.

Usage::

    with SerialLink(tmp / "ttyNODE", baudrate=115200) as link, Esp32RomSim(link) as sim:
        ...  # flash link.path; then compare sim.chip.flash_at(0x10000, len(image))
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from simulators.devices.esp32_rom.chip import ChipProfile, Esp32Chip
from simulators.devices.esp32_rom.protocol import END, ESC, INVALID_CRC, RomLoader
from simulators.devices.serial_link import SerialLink

FRAMING = (END, ESC)


@dataclass(frozen=True)
class Noise:
    byte_error_rate: float = 0.0
    checksum_error_rate: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("byte_error_rate", "checksum_error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value!r}: give a probability from 0 to 1")


@dataclass
class Injected:
    byte_errors: int = 0
    to_device: int = 0  # of the byte errors, how many the part received
    checksum_errors: int = 0


class Esp32RomSim:
    def __init__(
        self,
        link: SerialLink,
        profile: ChipProfile | None = None,
        noise: Noise | None = None,
    ) -> None:
        self.link = link
        self.noise = noise or Noise()
        self.injected = Injected()
        self._rng = random.Random(self.noise.seed)
        self._lock = threading.Lock()  # the relay thread and the emulator thread share _rng
        self.loader = RomLoader(profile, fault=self._inject_checksum_error)
        self.chip: Esp32Chip = self.loader.chip
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
                    if out[i] in FRAMING or self._rng.random() >= rate:
                        continue
                    value = out[i] ^ self._rng.randrange(1, 256)
                    if value in FRAMING:
                        continue
                    out[i] = value
                    self.injected.byte_errors += 1
                    self.injected.to_device += to_device
            return bytes(out)

        return corrupt

    def _inject_checksum_error(self, op: int) -> int:
        if not self.noise.checksum_error_rate:
            return 0
        with self._lock:
            hit = self._rng.random() < self.noise.checksum_error_rate
        self.injected.checksum_errors += hit
        return INVALID_CRC if hit else 0

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._fd = self.link.open_device()
        tty.setraw(self._fd)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim:esp32-rom", daemon=True)
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
        """GPIO0 low and a reset: the part is back in download mode, flash kept."""
        self.loader.reset()

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
            answer = self.loader.feed(data)
            view = memoryview(answer)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except OSError:
                    return
