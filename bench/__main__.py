"""Run all benchmarks (``make bench``). Never part of ``make test``."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["bench.codec"]


def main() -> int:
    for name in BENCHMARKS:
        print(f"# {name}", flush=True)
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
