"""Run all benchmarks (``make bench``). Never part of ``make test``.

A benchmark that fails (a missing reading, a process that died) is reported and the others
still run; the exit status is then 1.
"""

from __future__ import annotations

import importlib
import sys
import traceback

BENCHMARKS = ["bench.codec", "bench.gateway"]
BENCHMARKS += ["bench.fleet"]  # 500 gateways x 1 batch/s x 60 s against Mosquitto
BENCHMARKS += ["bench.ingest"]  # ingest throughput/latency vs Mosquitto and InfluxDB
BENCHMARKS += ["bench.ingest_compact"]  # compact vs JSON, CPU per reading, memory in bytes
BENCHMARKS += ["bench.alerts"]  # publish -> signed webhook p99 under 500 gateways
BENCHMARKS += ["bench.series"]  # the API's reads of 500 gateways on InfluxDB
BENCHMARKS += ["bench.sites"]  # GET /sites/latest: 500 sites on a real InfluxDB
BENCHMARKS += ["bench.analytics_memory"]  # the indicators job's RSS over passes on fixed data
BENCHMARKS += ["bench.flash"]  # stm32loader into the emulated STM32 over a pty, clean and noisy
BENCHMARKS += ["bench.flash_esp32"]  # esptool (ROM, no stub) into the emulated ESP32 over a pty
BENCHMARKS += ["bench.firmware"]  # verify_bundle of 1 MB and 64 MB bundles; key unlock


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"# {name}", flush=True)
        try:
            importlib.import_module(name).main()
        except Exception:
            traceback.print_exc()
            print(f"# {name} FAILED", flush=True)
            failed.append(name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
