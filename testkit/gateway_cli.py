"""``python -m testkit.gateway_cli gateway run --config F``: the real CLI, plus the
test-only ``test_emit`` driver, for tests that run the gateway as a separate process.

With ``JAGAJALAN_TEST_REFUSED_LOG=<file>`` in the environment, every reading the spool
refused (disk full: the gateway counts it in ``spool_errors`` and goes on) is also logged
there, one ``<sensor> <time ms>`` a line, so a chaos test knows exactly which readings the
gateway's own count stands for. The product is unchanged: this wraps its sink here only.

With ``JAGAJALAN_TEST_CLOCK_FILE=<file>`` the gateway's clock (the ``clock`` every part of
:class:`GatewayService` takes its wall time from: reading times, ``gateway_health``, status,
the spool's append times) is this machine's clock plus the offset in seconds written in that
file, read again at most every 0.1 s: the clock jumps when the test rewrites the file. (A
faketime-style seam in the process, not libfaketime: Debian's libfaketime 0.9.10 breaks
Python's ``time.sleep`` here, EINVAL, or hangs it when it fakes the monotonic clock too.)
Monotonic time (timeouts, keepalive) is not moved, as a real clock step does not move it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from gateway.devices import DRIVERS
from gateway.runtime.service import GatewayService
from jagajalan.cli import main
from telemetry.models import Reading
from testkit.gateway import EmitConfig, EmitDriver

REFUSED_LOG = "JAGAJALAN_TEST_REFUSED_LOG"
CLOCK_FILE = "JAGAJALAN_TEST_CLOCK_FILE"


class FileClock:
    """time.time() plus the offset (s) in *path*; a missing or unreadable file is 0."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0.0
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> float:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at >= 0.1:
                self._read_at = now
                try:
                    with open(self.path) as f:
                        self.offset = float(f.read().strip() or 0)
                except (OSError, ValueError):
                    pass
            return time.time() + self.offset


def use_clock(path: str) -> None:
    original = GatewayService.__init__
    clock = FileClock(path)

    def init(self: GatewayService, config: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("clock", clock)
        original(self, config, *args, **kwargs)

    GatewayService.__init__ = init  # type: ignore[method-assign]


def log_refused(path: str) -> None:
    original = GatewayService._sink
    lock = threading.Lock()

    def sink(self: GatewayService, readings: Sequence[Reading]) -> None:
        with lock:  # one sink call at a time, so the counter's change is this call's
            before = self.health.spool_errors
            original(self, readings)
            if self.health.spool_errors != before:
                lines = "".join(f"{r.sensor} {r.time}\n" for r in readings)
                with open(path, "a") as f:
                    f.write(lines)

    GatewayService._sink = sink  # type: ignore[method-assign]


if __name__ == "__main__":
    DRIVERS["test_emit"] = (EmitConfig, EmitDriver)
    if os.environ.get(REFUSED_LOG):
        log_refused(os.environ[REFUSED_LOG])
    if os.environ.get(CLOCK_FILE):
        use_clock(os.environ[CLOCK_FILE])
    sys.exit(main(sys.argv[1:]))
