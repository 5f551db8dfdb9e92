"""The gateway update's units (deploy/systemd/jagajalan-gateway-recover.service,
jagajalan-gateway-usb-update@.service and the rollout command's jagajalan-gateway-command@.path
and .service) pass `systemd-analyze verify` without a warning, next
to the gateway's unit; recovery is ordered before the gateway; the udev rule starts the USB
unit under the name its template expects. The root tree is built as in test_systemd_units.py,
plus the commands the USB unit runs (mkdir, mount, umount)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit import REPO
from tests.deploy.test_systemd_units import (
    UNITS,
    root,  # noqa: F401 (the fixture)
    verify,
)

RULE = REPO / "deploy" / "udev" / "90-jagajalan-usb-update.rules"


@pytest.fixture
def update_root(root: Path) -> Path:  # noqa: F811
    for name in ("mkdir", "mount", "umount"):
        command = root / "usr" / "bin" / name
        if not command.exists():
            command.parent.mkdir(parents=True, exist_ok=True)
            command.write_text("#!/bin/sh\n")
            command.chmod(0o755)
    for unit in UNITS.glob("*.path"):
        (root / "etc/systemd/system" / unit.name).write_text(unit.read_text())
    return root


def test_the_update_units_verify_without_warnings(update_root: Path) -> None:
    done = verify(
        update_root,
        "jagajalan-gateway.service",
        "jagajalan-gateway-recover.service",
        "jagajalan-gateway-usb-update@sdb1.service",
        "jagajalan-gateway-command@gw-1.path",
        "jagajalan-gateway-command@gw-1.service",
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_catches_a_broken_update_unit(update_root: Path) -> None:
    unit = update_root / "etc/systemd/system/jagajalan-gateway-recover.service"
    unit.write_text(unit.read_text().replace("Type=oneshot", "Type=oneshoot"))
    done = verify(update_root, "jagajalan-gateway-recover.service")
    assert "Failed to parse service type" in done.stdout + done.stderr


def test_recovery_runs_before_the_gateway_and_the_rule_names_the_usb_unit() -> None:
    recover = (UNITS / "jagajalan-gateway-recover.service").read_text()
    assert "Before=jagajalan-gateway.service" in recover.splitlines()
    assert "--recover --boot" in recover
    rule = RULE.read_text()
    (wants,) = re.findall(r'ENV\{SYSTEMD_WANTS\}\+="([^"]+)"', rule)
    assert wants == "jagajalan-gateway-usb-update@%k.service"
    assert (UNITS / "jagajalan-gateway-usb-update@.service").exists()
    usb = (UNITS / "jagajalan-gateway-usb-update@.service").read_text()
    assert "gateway-update --offline --from /run/jagajalan-usb/%i" in usb


def test_the_command_path_unit_starts_the_updater_on_the_gateways_command_file() -> None:
    path = (UNITS / "jagajalan-gateway-command@.path").read_text().splitlines()
    assert "PathChanged=/var/lib/jagajalan/%i/command.json" in path
    assert "Unit=jagajalan-gateway-command@%i.service" in path
    service = (UNITS / "jagajalan-gateway-command@.service").read_text()
    assert "--gateway %i --command /var/lib/jagajalan/%i/command.json" in service
