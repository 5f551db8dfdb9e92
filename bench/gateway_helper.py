"""``python -m bench.gateway_helper gateway run --config F``: the real gateway command plus the
bench-only ``bench_emit`` driver, a source as fast as the gateway can take.

Never part of the product: it is registered only in the process this launcher starts (as
``testkit/gateway_cli.py`` does for the tests).

The driver waits until ``go_file`` exists (so that the bench can read the gateway's CPU time
after start-up and before the work), hands ``count`` four-field air-quality readings to the
gateway in sink calls of ``chunk`` readings (one per call is how a polling driver delivers
them), then writes ``done_file`` and idles.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Literal

from gateway.devices import DRIVERS
from gateway.devices.base import DeviceConfig, Driver
from testkit.wire import air_quality_readings


class BenchEmitConfig(DeviceConfig):
    driver: Literal["bench_emit"]
    count: int
    chunk: int = 1
    go_file: Path
    done_file: Path


class BenchEmitDriver(Driver):
    config: BenchEmitConfig

    def run(self, stop: threading.Event) -> None:
        cfg = self.config
        self.set_state("ok")
        while not cfg.go_file.exists():
            if stop.wait(0.01):
                return
        series = air_quality_readings(cfg.id)
        left = cfg.count
        while left > 0 and not stop.is_set():
            n = min(cfg.chunk, left)
            self.sink([next(series) for _ in range(n)])
            left -= n
        if left == 0:
            cfg.done_file.write_text(f"{cfg.count}\n")
        stop.wait()


if __name__ == "__main__":
    from jagajalan.cli import main

    DRIVERS["bench_emit"] = (BenchEmitConfig, BenchEmitDriver)
    sys.exit(main(sys.argv[1:]))
