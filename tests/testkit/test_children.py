"""Ctrl-C stops the test suite and everything it started (testkit/children.py, kernel/signals.py).

The acceptance test runs a small pytest session on a pseudo-terminal of its own, as `make test`
runs in a terminal: the session uses the real Mosquitto and InfluxDB fixtures, runs a gateway
in-process (which installs and must give back its signal handlers), starts a child of its own
and then blocks. One Ctrl-C typed on that terminal must end pytest, promptly and non-zero, and
leave none of its children running.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import pytest

from testkit import REPO, children
from testkit.gateway import wait_until

pytestmark = pytest.mark.services

BLOCKING_SESSION = """
import os
import threading
from pathlib import Path

from gateway.runtime.service import GatewayService
from testkit import children
from testkit.gateway import emit_device, make_config, register_emit_driver


def test_blocks_until_ctrl_c(broker, influx, monkeypatch, tmp_path):
    register_emit_driver(monkeypatch)
    config = make_config(tmp_path, "gw-ctrl-c", broker.url, [emit_device("c1", 3)])
    service = GatewayService(config)
    service.request_shutdown()
    assert service.run() == 0  # in-process: installs SIGINT/SIGTERM handlers, gives them back
    own = children.start(["sleep", "600"])  # a test's own child, no fixture stops it
    pids = f"{os.getpgrp()} {broker.proc.pid} {influx.proc.pid} {own.pid}"
    Path(os.environ["CTRL_C_PIDS"]).write_text(pids)
    threading.Event().wait()  # until Ctrl-C
"""


def _state(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, session) of *pid*, None when it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[2]), int(fields[3])


def _gone(pid: int) -> bool:
    state = _state(pid)
    return state is None or state[0] in ("Z", "X")  # a zombie no longer runs


def _drain(fd: int, out: list[bytes]) -> None:
    """Read the terminal's output (pytest blocks when nobody reads a full terminal)."""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last process on the terminal closed it
            return
        if not chunk:
            return
        out.append(chunk)


def test_one_ctrl_c_ends_pytest_and_every_child_it_started(tmp_path: Path) -> None:
    (tmp_path / "test_blocking.py").write_text(textwrap.dedent(BLOCKING_SESSION))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    pids_file = tmp_path / "pids"
    master, slave = os.openpty()

    def take_terminal() -> None:  # after setsid: the pty becomes this session's terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, "PYTHONPATH": str(REPO), "CTRL_C_PIDS": str(pids_file)}
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider"]
    cmd += ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)]
    proc = subprocess.Popen(  # the terminal's own session, like `make test` in a shell
        cmd,
        cwd=REPO,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    output: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, output), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: pids_file.exists() or proc.poll() is not None, 90), output
        assert proc.poll() is None, b"".join(output).decode(errors="replace")
        group, *child_pids = (int(p) for p in pids_file.read_text().split())
        assert group == proc.pid  # pytest leads the terminal's foreground process group
        assert os.tcgetpgrp(master) == group
        for pid in child_pids:
            state = _state(pid)
            assert state is not None, pid
            assert state[1] != group, f"child {pid} would get the terminal's SIGINT"

        os.write(master, termios.tcgetattr(master)[6][termios.VINTR])  # Ctrl-C, typed
        typed = time.monotonic()
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("pytest still runs 60 s after one Ctrl-C")
        took = time.monotonic() - typed
        reader.join(10)
        text = b"".join(output).decode(errors="replace")
        assert code == pytest.ExitCode.INTERRUPTED, text
        assert "KeyboardInterrupt" in text, text
        assert wait_until(lambda: all(_gone(pid) for pid in child_pids), 10), [
            (pid, _state(pid)) for pid in child_pids
        ]
        assert took < 30, f"pytest took {took:.1f} s to stop after Ctrl-C"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def test_stop_ends_a_childs_whole_process_group() -> None:
    """(kill_all ends every child of the process, the session's broker too: the acceptance
    test above checks it, in a pytest of its own.)"""
    proc = children.start(["sh", "-c", "sleep 600 & echo $!; wait"], stdout=subprocess.PIPE)
    grandchild = int(proc.stdout.readline())
    assert _state(proc.pid)[1:] == (proc.pid, proc.pid)  # its own group and session
    assert proc in children.live()
    assert children.stop(proc, timeout=10) == -signal.SIGTERM
    assert wait_until(lambda: _gone(grandchild), 10)
    assert proc not in children.live()
    proc.stdout.close()


def test_stop_ends_the_child_and_forgets_it() -> None:
    proc = children.start(["sleep", "600"])
    assert children.stop(proc, timeout=10) == -signal.SIGTERM
    assert proc not in children.live()


def test_tests_and_benchmarks_start_children_only_through_testkit_children() -> None:
    """A child started with subprocess.Popen would share pytest's process group again (and get
    the terminal's Ctrl-C before pytest's teardown); short commands use subprocess.run."""
    allowed = {
        "testkit/children.py",
        "tests/testkit/test_children.py",  # this test's terminal
        # a gateway that must die with the updater's process group (a power cut), which the
        # test itself started through children.start
        "tests/firmware_tools/gateway_update/kit.py",
    }
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("tests", "testkit", "bench")
        for path in sorted((REPO / folder).rglob("*.py"))
        if "Popen(" in path.read_text(encoding="utf-8")
        and str(path.relative_to(REPO)) not in allowed
    ]
    assert offenders == []
