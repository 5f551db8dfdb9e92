"""A process that uses a set share of a core and nothing else: a reference load for
measuring what sharing the cores alone costs another process (bench/ingest_compact.py).

It spins on the clock, touching no memory beyond its own few pages, so what it takes from its
neighbours is CPU time only, not cache or memory bandwidth. It spins in slices of 1 ms while
it is behind its share and sleeps 1 ms while ahead; a debt it could not pay (the machine was
busy) is forgiven beyond 20 ms, so it never makes up for lost time with a long burst.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bench.procfs import cpu_seconds
from testkit import children

_SPIN = """
import sys, time
share = float(sys.argv[1])
owed, last, spent = 0.0, time.perf_counter(), time.process_time()
print("spinning", flush=True)
while True:
    now, used = time.perf_counter(), time.process_time()
    owed = min(0.02, owed + share * (now - last) - (used - spent))
    last, spent = now, used
    if owed > 0:
        end = now + 0.001
        while time.perf_counter() < end:
            pass
    else:
        time.sleep(0.001)
"""


@dataclass
class Load:
    pid: int
    started: float  # time.perf_counter() when it began to spin
    cpu_at_start: float  # its CPU seconds then

    def cores(self) -> float:
        """The share of a core it has really used since it started."""
        return (cpu_seconds(self.pid) - self.cpu_at_start) / (time.perf_counter() - self.started)


@contextlib.contextmanager
def cpu_load(share: float) -> Iterator[Load]:
    """A child process using *share* of one core (0 < share <= 1) until the block ends."""
    if not 0 < share <= 1:
        raise ValueError(f"a CPU load is a share of one core, 0 < share <= 1; not {share}")
    proc = children.start(
        [sys.executable, "-c", _SPIN, str(share)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # counted from when it spins, not from the interpreter's start-up
        if proc.stdout.readline().strip() != "spinning":
            raise RuntimeError(f"the CPU load did not start (exit status {proc.wait()})")
        load = Load(proc.pid, time.perf_counter(), cpu_seconds(proc.pid))
        yield load
    finally:
        children.stop(proc, timeout=5)
        proc.stdout.close()
