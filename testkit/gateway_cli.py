"""``python -m testkit.gateway_cli gateway run --config F``: the real CLI, plus the
test-only ``test_emit`` driver, for tests that run the gateway as a separate process.

With ``JAGAJALAN_TEST_REFUSED_LOG=<file>`` in the environment, every reading the spool
refused (disk full: the gateway counts it in ``spool_errors`` and goes on) is also logged
there, one ``<sensor> <time ms>`` a line, so a chaos test knows exactly which readings the
gateway's own count stands for. The product is unchanged: this wraps its sink here only.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

from gateway.devices import DRIVERS
from gateway.runtime.service import GatewayService
from jagajalan.cli import main
from telemetry.models import Reading
from testkit.gateway import EmitConfig, EmitDriver

REFUSED_LOG = "JAGAJALAN_TEST_REFUSED_LOG"


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
    sys.exit(main(sys.argv[1:]))
