"""What the emulated bootloaders share (:mod:`simulators.devices.stm32_boot`,
:mod:`simulators.devices.esp32_rom`): a thread serving a pure protocol object on the device
side of a :class:`~simulators.devices.serial_link.SerialLink`, and a seeded noisy line.

A subclass gives its ``name`` (the thread's), the bytes the noise must neither hit nor make
(``protected``: a framing byte), and :meth:`feed` (bytes from the host -> the answer).
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Self

from simulators.devices.serial_link import SerialLink


@dataclass(frozen=True)
class LineNoise:
    """The faults of a noisy line, seeded so that a run can be repeated; a subclass adds the
    part's own (every field named ``*_rate`` is a probability, checked here)."""

    byte_error_rate: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} {value!r}: give a probability from 0 to 1")


class PtyLoaderSim:
    name = "loader"
    protected: tuple[int, ...] = ()

    def __init__(self, link: SerialLink, byte_error_rate: float, seed: int, injected: Any) -> None:
        """*injected* counts ``byte_errors`` and ``to_device`` (of them, what the part got)."""
        self.link = link
        self.injected = injected
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # the relay thread and the emulator thread share _rng
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        if byte_error_rate:
            link.to_device = self._corrupter(byte_error_rate, to_device=True)
            link.to_gateway = self._corrupter(byte_error_rate, to_device=False)

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError

    # -- faults -----------------------------------------------------------------------------
    def chance(self, rate: float) -> bool:
        """True with probability *rate*, from the seeded generator."""
        if not rate:
            return False
        with self._lock:
            return self._rng.random() < rate

    def _corrupter(self, rate: float, to_device: bool) -> Callable[[bytes], bytes]:
        protected = self.protected

        def corrupt(data: bytes) -> bytes:
            out = bytearray(data)
            with self._lock:
                for i in range(len(out)):
                    if out[i] in protected or self._rng.random() >= rate:
                        continue
                    value = out[i] ^ self._rng.randrange(1, 256)
                    if value in protected:
                        continue
                    out[i] = value
                    self.injected.byte_errors += 1
                    self.injected.to_device += to_device
            return bytes(out)

        return corrupt

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._fd = self.link.open_device()
        tty.setraw(self._fd)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim:{self.name}", daemon=True)
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
            view = memoryview(self.feed(data))
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except OSError:
                    return
