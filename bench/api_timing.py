"""Timing a real ``jagajalan api run`` on loopback for the district benchmark
(:mod:`bench.series`): starting it, waiting for InfluxDB to settle after a load, and timing
requests with the CPU the API and InfluxDB spent on each."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.procfs import cpu_seconds as procfs_cpu
from testkit import REPO, children
from testkit.services import free_port, wait_port


def start_api(influx_url: str, db: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = ["--log-level", "WARNING", "api", "run", "--port", str(port)]
    args += ["--influx-url", influx_url, "--influx-db", db, "--public-read", "all"]
    args += ["--rate-public", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    with log.open("ab") as stream:
        proc = children.start(
            [sys.executable, "-m", "jagajalan.cli", *args],
            cwd=REPO,
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    wait_port(port, timeout=60, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used."""
    return sum(procfs_cpu(pid) for pid in pids)


def settle(pid: int, idle: float = 0.15, quiet: int = 3, timeout: float = 300) -> float:
    """Seconds until *pid* used less than *idle* of a CPU in each of *quiet* seconds in a row
    (InfluxDB compacts what was just loaded, fully once a shard is cold: timing requests
    meanwhile would time the compaction, and a page in a shard not yet compacted reads
    more files than one in a compacted shard)."""
    started, calm = time.monotonic(), 0
    before = cpu_seconds([pid])
    while time.monotonic() - started < timeout and calm < quiet:
        time.sleep(1.0)
        now = cpu_seconds([pid])
        calm = calm + 1 if now - before < idle else 0
        before = now
    return time.monotonic() - started


def tsm_files_per_shard(data: Path) -> float:
    """TSM files per shard under InfluxDB's data folder (1 when every shard is compacted)."""
    files = list(data.rglob("*.tsm"))
    return len(files) / max(1, len({f.parent for f in files}))


#: The API's and InfluxDB's process ids, for the CPU each request costs them.
SERVERS: list[int] = []


def timed(client: httpx.Client, paths: Callable[[int], str], repeats: int) -> list[float]:
    """Milliseconds of each request (a 200 with a body, else the bench fails); the CPU
    milliseconds each of :data:`SERVERS` spent per request are the list's ``cpu``."""
    client.get(paths(0)).raise_for_status()  # warm: connections, field keys
    ms = Timings()
    cpu = [cpu_seconds([pid]) for pid in SERVERS]
    for i in range(repeats):
        started = time.perf_counter()
        r = client.get(paths(i))
        ms.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        if not r.json():
            raise AssertionError(f"{paths(i)} answered nothing")
    ms.cpu = [
        (cpu_seconds([pid]) - c) * 1000 / repeats for pid, c in zip(SERVERS, cpu, strict=True)
    ]
    return ms


class Timings(list):
    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []  # CPU ms per request of each of SERVERS

    @property
    def cpu_ms(self) -> float:
        return sum(self.cpu)

    def cpu_text(self) -> str:
        api, influx = [*self.cpu, 0.0, 0.0][:2]
        return f"ms per request (API {api:.1f} + InfluxDB {influx:.1f})"


def p99(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
