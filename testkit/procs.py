"""Real processes for the gateway tests: the gateway (with the test-only ``test_emit`` driver)
and ingest as subprocesses, plus waiting on their logs and freezing a process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from testkit import REPO, children


def start_gateway(
    config: Path,
    log: Path,
    *,
    log_level: str = "INFO",
    real_cli: bool = False,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """``jagajalan gateway run --config`` as a process; with the test_emit driver unless
    *real_cli* (then exactly the shipped command)."""
    module = "jagajalan.cli" if real_cli else "testkit.gateway_cli"
    args = ["--log-level", log_level, "gateway", "run", "--config", str(config)]
    out = log.open("ab")
    return children.start(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=preexec_fn,  # only setrlimit: safe before exec
    )


def start_ingest(broker_url: str, influx_url: str, db: str, client_id: str, log: Path):
    """A real ingest process; returns once it holds its subscriptions (QoS 1 messages
    published before a subscriber or session exists are not kept by the broker)."""
    args = ["--broker-url", broker_url, "--influx-url", influx_url, "--influx-db", db]
    args += ["--client-id", client_id, "--max-delay", "0.1"]
    out = log.open("ab")
    proc = children.start(
        [sys.executable, "-m", "jagajalan.cli", "--log-level", "INFO", "ingest", "run", *args],
        cwd=REPO,
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
    )
    wait_for_log(log, "subscribed to", proc, timeout=30)
    return proc


def wait_for_log(
    log: Path, text: str, proc: subprocess.Popen | None = None, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {log} after {timeout}s:\n{log.read_text()}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Send *sig* (if still running) and wait; kill after *timeout*. Returns the exit code."""
    return children.stop(proc, sig, timeout)


@contextlib.contextmanager
def frozen(proc: subprocess.Popen) -> Iterator[None]:
    """SIGSTOP *proc* for the duration (a broker that stalls: it reads and answers nothing,
    while its sockets stay open and the kernel keeps accepting bytes for it)."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)
