"""``gateway scan`` speaks one language at a time: its whole output (progress on stderr, the
TOML snippet on stdout) judged by the language judge (testkit/language.py), on a bus with a
sensor, an empty bus and a port that does not exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.devices.modbus import ModbusSensorSim
from simulators.devices.serial_link import SerialLink
from testkit import REPO
from testkit.language import judge

LANGS = ("id", "en")


def scan(port: Path, lang: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400", "JAGAJALAN_LANG": ""}
    argv = [sys.executable, "-m", "jagajalan.cli", "gateway", "scan", "--port", str(port)]
    return subprocess.run(
        [*argv, "--lang", lang, *extra],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=REPO,
        env=env,
    )


@pytest.mark.parametrize("lang", LANGS)
def test_a_found_sensor_in_one_language(lang: str, tmp_path: Path) -> None:
    with (
        SerialLink(tmp_path / "ttyRS485", baudrate=9600) as link,
        ModbusSensorSim(link.device_path, "pm-th-generic", unit=3, baudrate=9600),
    ):
        done = scan(link.path, lang, "--bauds", "9600", "--units", "1-4")
    assert done.returncode == 0, done.stderr
    assert not judge(done.stderr, lang), done.stderr
    comments = "\n".join(line for line in done.stdout.splitlines() if line.startswith("#"))
    assert comments and not judge(comments, lang), done.stdout  # the TOML snippet's comments
    assert "pm-th-generic" in done.stdout


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_bus_and_a_missing_port_in_one_language(lang: str, tmp_path: Path) -> None:
    with SerialLink(tmp_path / "ttyRS485") as link:
        empty = scan(link.path, lang, "--bauds", "9600", "--units", "1-3", "--timeout", "0.05")
    missing = scan(tmp_path / "ttyUSB9", lang)
    bad = scan(tmp_path / "ttyUSB9", lang, "--units", "0-300")
    assert (empty.returncode, missing.returncode, bad.returncode) == (1, 2, 2)
    for done in (empty, missing, bad):
        assert done.stderr.strip()
        assert not judge(done.stderr, lang), done.stderr
