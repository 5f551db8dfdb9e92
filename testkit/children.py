"""Long-running child processes of the tests and benchmarks (Mosquitto, influxd, JagaJalan
services): every one is started here, so that Ctrl-C stops the suite and everything it started.

- Each child runs in a session (and process group) of its own, so the terminal's SIGINT reaches
  only pytest: the children do not die under the fixtures' feet while pytest goes on, and
  pytest's KeyboardInterrupt runs the fixtures' teardown, which stops them in order.
- Each child is registered until it is stopped here; :func:`kill_all` ends whatever is left (the
  whole process group: a child's own children too). tests/conftest.py calls it when pytest
  ends, and an ``atexit`` hook calls it for any other process (a benchmark, a second Ctrl-C in
  the middle of the teardown).

A process killed with SIGKILL runs no hook; its children then stay. That is the one case left
to the person (``pkill -g``, or the process group ids in the logs).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

_lock = threading.Lock()
_live: dict[int, subprocess.Popen] = {}  # pid -> child not yet stopped here


def start(args: Sequence[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **popen)`` in a new session, registered for :func:`kill_all`."""
    popen.pop("start_new_session", None)
    proc = subprocess.Popen(args, start_new_session=True, **popen)
    with _lock:
        for pid in [pid for pid, p in _live.items() if p.poll() is not None]:
            del _live[pid]
        _live[proc.pid] = proc
    return proc


def live() -> list[subprocess.Popen]:
    """The children started here that still run."""
    with _lock:
        return [p for p in _live.values() if p.poll() is None]


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send *sig* to *proc*'s process group (its own, from :func:`start`)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Send *sig* to *proc* (if it still runs) and wait; SIGKILL its whole process group after
    *timeout*. Returns the exit code (-9 when it had to be killed)."""
    code = proc.poll()
    if code is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)
            proc.wait()
            code = -9
    signal_group(proc, signal.SIGKILL)  # whatever it left behind in its group
    with _lock:
        _live.pop(proc.pid, None)
    return code


def kill_all(grace: float = 3.0) -> list[int]:
    """SIGTERM every child still running (its process group), SIGKILL what is left after
    *grace* seconds; returns their pids."""
    procs = live()
    for proc in procs:
        signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        signal_group(proc, signal.SIGKILL)
        proc.wait()
    with _lock:
        for proc in procs:
            _live.pop(proc.pid, None)
    return [p.pid for p in procs]


atexit.register(kill_all)
