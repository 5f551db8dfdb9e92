"""`jagajalan simulate devices --fault ...` from the command line: the fault is applied to the
emulated device, logged with its window in the ground truth, and a bad spec is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from simulators.truth import read_truth
from testkit import children


def _run(tmp: Path, *extra: str) -> subprocess.Popen:
    return children.start(
        [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "simulate",
            "devices",
            "--dir",
            str(tmp / "sim"),
            "--gateways",
            "srl-pasar-01",
            "--truth",
            str(tmp / "truth.jsonl"),
            "--ready-file",
            str(tmp / "ready"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_fault_from_the_command_line_is_logged_with_its_window(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--fault", "env1:crc_error@1s+2s")
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        started = time.time() * 1000
        time.sleep(4.5)  # the fault window (1 s .. 3 s) has ended
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    faults = [t for t in read_truth(tmp_path / "truth.jsonl") if t["kind"] == "fault"]
    assert len(faults) == 1, faults
    fault = faults[0]
    assert fault["fault"] == "crc_error"
    assert fault["device"].endswith("env1")
    assert fault["end"] - fault["start"] >= 1900
    assert started - 2000 <= fault["start"] <= started + 3000


def test_fault_on_an_unknown_device_exits_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--fault", "nosuch:crc_error@1s+2s")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "nosuch" in err


def test_malformed_fault_spec_exits_2(tmp_path: Path) -> None:
    proc = _run(tmp_path, "--fault", "env1:crc_error")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "<device>:<kind>" in err
