"""The server components' systemd units (deploy/systemd: api, analytics, alerts, dashboards
sites and its timer) pass `systemd-analyze verify` without a warning (the pattern of
test_systemd_units.py: a throwaway --root with systemd's own units), keep the hardening of the
ingest unit, run a `jagajalan` command line that parses, read their secrets only through
LoadCredential= from files `jagajalan stack init` makes, and their env examples set only
options the command has."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from jagajalan.cli import build_parser, main
from jagajalan.stack import PASSWORDS
from testkit import REPO
from testkit.services import require_binary

UNITS = REPO / "deploy" / "systemd"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
SERVER = {
    "jagajalan-api.service": ("api.env", ["api", "run"]),
    "jagajalan-analytics.service": ("analytics.env", ["analytics", "run"]),
    "jagajalan-alerts.service": ("alerts.env", ["alerts", "run"]),
    "jagajalan-dashboards-sites.service": ("analytics.env", ["dashboards", "sites"]),
}
#: What every server unit sets, as the ingest unit does.
HARDENING = [
    "DynamicUser=yes",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes",
    "RestrictSUIDSGID=yes",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "UMask=0077",
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(SYSTEM_UNITS, tmp_path / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    target = tmp_path / "etc" / "systemd" / "system"
    target.mkdir(parents=True)
    for unit in [*UNITS.glob("*.service"), *UNITS.glob("*.timer")]:
        shutil.copy(unit, target / unit.name)
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


def test_the_server_units_verify_without_warnings(root: Path) -> None:
    done = verify(root, *SERVER, "jagajalan-dashboards-sites.timer")
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_catches_a_broken_server_unit(root: Path) -> None:
    unit = root / "etc" / "systemd" / "system" / "jagajalan-api.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strikt"))
    done = verify(root, "jagajalan-api.service")
    assert "Failed to parse protect system value" in done.stdout + done.stderr


def lines(unit: str) -> list[str]:
    return (UNITS / unit).read_text().splitlines()


@pytest.mark.parametrize("unit", sorted(SERVER))
def test_each_unit_is_hardened_and_runs_a_command_that_parses(unit: str) -> None:
    text = lines(unit)
    missing = [option for option in HARDENING if option not in text]
    assert missing == [], unit
    (start,) = [line.split("=", 1)[1] for line in text if line.startswith("ExecStart=")]
    argv = shlex.split(start)
    assert argv[0] == "/opt/jagajalan/venv/bin/jagajalan"
    assert argv[1:3] == SERVER[unit][1]
    assert callable(build_parser().parse_args(argv[1:]).func)


@pytest.mark.parametrize("unit", sorted(SERVER))
def test_secrets_come_only_from_credentials_stack_init_makes(unit: str) -> None:
    text = lines(unit)
    loaded = {}
    for line in text:
        if line.startswith("LoadCredential="):
            name, path = line.removeprefix("LoadCredential=").split(":", 1)
            assert path == f"/etc/jagajalan/secrets/{name}" and name in PASSWORDS, line
            loaded[name] = path
    assert loaded, unit
    files = [line for line in text if "_PASSWORD_FILE=" in line]
    assert sorted(f.rsplit("/", 1)[1] for f in files) == sorted(loaded)
    assert all(f.split("=", 2)[2].startswith("%d/") for f in files)
    assert not [line for line in text if re.match(r"Environment=JAGAJALAN_\w*PASSWORD=", line)]


def options_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The JAGAJALAN_* variables the command's --help names."""
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return set(re.findall(r"env\s+(JAGAJALAN_\w+)", capsys.readouterr().out))


@pytest.mark.parametrize("unit", sorted(SERVER))
def test_the_env_examples_set_only_options_the_command_has(unit: str, capsys) -> None:
    env, argv = SERVER[unit]
    assert f"EnvironmentFile=/etc/jagajalan/{env}" in lines(unit)
    example = (UNITS / f"{env}.example").read_text().splitlines()
    variables = {line.split("=", 1)[0] for line in example if line and not line.startswith("#")}
    assert variables and variables <= options_of(argv, capsys), unit
    assert not any("PASSWORD" in v for v in variables)


def test_the_timer_runs_the_sites_job_daily() -> None:
    timer = lines("jagajalan-dashboards-sites.timer")
    assert "OnCalendar=daily" in timer and "Persistent=true" in timer
    assert "Type=oneshot" in lines("jagajalan-dashboards-sites.service")
