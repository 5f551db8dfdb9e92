"""Base of the emulators that talk over one serial line (traffic counter, weather station,
GPS): the device side of a :class:`~simulators.devices.serial_link.SerialLink` opened raw, one
writer lock so that injected bytes never land inside a line, and one thread running ``_run``."""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from typing import Self


class SerialDeviceSim:
    #: Flags for opening the device side; an emulator that polls for input adds O_NONBLOCK.
    open_flags = os.O_RDWR | os.O_NOCTTY
    device_path: str
    sensor_id: str

    def _init_device(self) -> None:
        self._fd: int | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._fd = os.open(self.device_path, self.open_flags)
        tty.setraw(self._fd)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim:{self.sensor_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._write_lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- output -----------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Write *data* as is (garbage, corrupt lines), never inside another line."""
        with self._write_lock:
            if self._fd is None:
                raise RuntimeError("simulator is not started")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def _run(self) -> None:
        raise NotImplementedError
