"""Running a gateway driver in a thread of the test against an emulated device on a
pseudo-terminal, as the driver tests do: the sink that collects its readings, polling for a
condition, and the thread's start and orderly stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from gateway.devices.base import Driver
from telemetry.models import Reading

D = TypeVar("D", bound=Driver)


class Collector:
    """The driver's sink: keeps every reading, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.readings: list[Reading] = []

    def __call__(self, readings) -> None:
        with self._lock:
            self.readings.extend(readings)

    def snapshot(self) -> list[Reading]:
        with self._lock:
            return list(self.readings)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll *predicate* every 20 ms until it holds (True) or *timeout* s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@contextmanager
def in_thread(driver: D) -> Iterator[D]:
    """``driver.run`` in a thread while the block runs; on leaving, stop it and check that
    it returned."""
    stop = threading.Event()
    thread = threading.Thread(target=driver.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield driver
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive(), "run() did not return after stop"
