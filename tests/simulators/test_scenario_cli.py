"""`jagajalan simulate scenario` and `simulate devices --scenario`, as a technician runs them
(real processes, real pseudo-terminals for the devices)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from simulators.scenario.config import SCENARIO_DIR
from simulators.truth import read_truth
from testkit import children


def _jagajalan(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jagajalan.cli", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_scenario_run_writes_truth_and_checks_its_expectations(tmp_path: Path) -> None:
    truth = tmp_path / "flood.jsonl"
    proc = _jagajalan(
        "scenario", "rainy_season_flood", "--speed", "57600", "--truth", str(truth), "--check"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "day1 15:40" in proc.stdout and "awas" in proc.stdout
    assert "sesuai" in proc.stdout and "meleset" not in proc.stdout  # Bahasa by default
    assert "air" in proc.stdout and "(awas)" in proc.stdout  # hourly lines show the water
    records = read_truth(truth)
    assert records[0]["kind"] == "scenario_start" and records[0]["name"] == "rainy_season_flood"
    assert sum(r["kind"] == "scenario" for r in records) == 577 * 4


def test_check_fails_when_the_file_expects_something_else(tmp_path: Path) -> None:
    text = (SCENARIO_DIR / "rainy_season_flood.toml").read_text()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        text.replace(
            'at = "day1 15:40"\nsite = "srl-tembesi-01"',
            'at = "day1 18:40"\nsite = "srl-tembesi-01"',
        )
    )
    proc = _jagajalan("scenario", str(wrong), "--fast", "--quiet", "--check", "--lang", "en")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "off" in proc.stdout and "-180 min" in proc.stdout


def test_scenario_config_error_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "Bad Name"\n')
    proc = _jagajalan("scenario", str(bad), "--fast")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}: name = 'Bad Name'" in proc.stderr
    assert f"{bad}: start = None: kunci wajib ini belum diisi" in proc.stderr


def test_devices_run_the_scenario_clock_alongside(tmp_path: Path) -> None:
    truth, ready = tmp_path / "truth.jsonl", tmp_path / "ready"
    proc = children.start(
        [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "simulate",
            "devices",
            "--dir",
            str(tmp_path / "sim"),
            "--gateways",
            "srl-pasar-01",
            "--scenario",
            "normal_day",
            "--speed",
            "28800",
            "--truth",
            str(truth),
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "devices did not start"
            time.sleep(0.1)
        time.sleep(3)  # a day at 28800x takes 3 s
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    records = read_truth(truth)
    scenario = [r for r in records if r["kind"] == "scenario"]
    assert scenario and {r["device"] for r in scenario} >= {"srl-pasar-01"}
    assert any(r["kind"] == "modbus_values" for r in records)  # the devices wrote too
    assert "Skenario normal_day berjalan 28800x lebih cepat" in out  # Bahasa Indonesia by default
