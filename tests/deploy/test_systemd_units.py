"""The shipped systemd units (deploy/systemd/) pass `systemd-analyze verify` without a single
warning, and the gateway's unit starts without waiting for the network, as its comment says.

systemd-analyze verify loads the units into a test manager under --root: a throwaway tree with
systemd's own units (sysinit.target and the rest), the shipped units in /etc/systemd/system and
an executable at the path their ExecStart names (verify refuses a command that is missing).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testkit import REPO
from testkit.services import require_binary

UNITS = REPO / "deploy" / "systemd"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(SYSTEM_UNITS, tmp_path / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    for unit in UNITS.glob("*.service"):
        target = tmp_path / "etc" / "systemd" / "system" / unit.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(unit, target)
    command = tmp_path / "opt" / "jagajalan" / "venv" / "bin" / "jagajalan"
    command.parent.mkdir(parents=True)
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    return tmp_path


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("systemd-analyze"), "verify", f"--root={root}", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_shipped_units_verify_without_warnings(root: Path) -> None:
    done = verify(root, "jagajalan-gateway.service", "jagajalan-ingest@1.service")
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_catches_a_broken_unit(root: Path) -> None:
    """The check above can fail: a typo in a shipped unit is reported."""
    unit = root / "etc" / "systemd" / "system" / "jagajalan-gateway.service"
    unit.write_text(unit.read_text().replace("Restart=always", "Restart=allways"))
    done = verify(root, "jagajalan-gateway.service")
    assert "Failed to parse service restart specifier" in done.stdout + done.stderr


def test_the_gateway_starts_without_waiting_for_the_network() -> None:
    """A cabinet without signal still reads its sensors and spools (the unit's comment)."""
    lines = (UNITS / "jagajalan-gateway.service").read_text().splitlines()
    deps = [
        line
        for line in lines
        if line.split("=")[0] in ("After", "Wants", "Requires", "BindsTo", "Requisite")
    ]
    assert deps == ["After=network.target"]
