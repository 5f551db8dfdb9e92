"""Every documented way of running ingest workers gives each a stable, distinct client id
that the broker's rule accepts (user U connects as U or ``U.<anything>``): docker-compose.yml,
the systemd template unit deploy/systemd/jagajalan-ingest@.service, and the commands of
README.md and docs/scaling.md. Each configuration is also run through the real settings
loader (with stand-in secret files), so a misspelt variable or a bad value fails here."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ingest.settings import IngestRunSettings
from kernel.fields import client_id_allowed
from kernel.settings import add_options, load, options
from testkit import REPO

UNIT = REPO / "deploy" / "systemd" / "jagajalan-ingest@.service"
KNOWN_ENV = {o.env for o in options(IngestRunSettings)} | {
    o.file_env for o in options(IngestRunSettings) if o.secret
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_options(parser, IngestRunSettings)
    return parser


def _load(argv: list[str], env: dict[str, str], secrets: Path) -> IngestRunSettings:
    """The settings the worker would start with; secret files become stand-ins in *secrets*."""
    env = dict(env)
    for key, value in env.items():
        if key.endswith("_FILE"):
            stand_in = secrets / Path(value).name
            stand_in.write_text("a-strong-stand-in-secret\n")
            env[key] = str(stand_in)
    return load(IngestRunSettings, _parser().parse_args(argv), env)


def _compose_workers() -> dict[str, dict]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] == ["ingest", "run"]
    }


def test_compose_ingest_workers_have_stable_distinct_ids(tmp_path: Path) -> None:
    workers = _compose_workers()
    assert len(workers) >= 2, "scale-out needs at least two workers"
    ids: dict[str, str] = {}
    for name, service in workers.items():
        assert "deploy" not in service and "scale" not in service, f"{name}: replicas share ids"
        env = {k: str(v) for k, v in service["environment"].items()}
        assert set(env) <= KNOWN_ENV, f"{name}: unknown variables {set(env) - KNOWN_ENV}"
        client_id = env.get("JAGAJALAN_CLIENT_ID", "")
        assert re.fullmatch(r"[a-z0-9.]+", client_id), f"{name}: {client_id!r} is not fixed text"
        settings = _load(service["command"][2:], env, tmp_path)
        assert settings.client_id == client_id and settings.shared_group == "ingest"
        assert settings.mqtt_username and client_id_allowed(client_id, settings.mqtt_username)
        assert "HOSTNAME" not in str(service) and "hostname" not in service
        ids[name] = client_id
    assert len(set(ids.values())) == len(ids), f"client ids repeat: {ids}"
    assert sorted(ids.values()) == [f"ingest.{i}" for i in range(1, len(ids) + 1)]


def _unit() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            entries.setdefault(key, []).append(value)
    return entries


@pytest.mark.parametrize("instance", ["1", "2", "17"])
def test_systemd_unit_gives_each_instance_its_id(instance: str, tmp_path: Path) -> None:
    """The ExecStart line and Environment= of the unit, as systemd would expand them for
    jagajalan-ingest@<instance>, plus the shipped ingest.env.example, load as settings."""
    unit = _unit()
    [exec_start] = unit["ExecStart"]
    argv = shlex.split(exec_start.replace("%i", instance))
    assert argv[:3] == ["/opt/jagajalan/venv/bin/jagajalan", "ingest", "run"]
    assert "password" not in exec_start.lower() and "token" not in exec_start.lower()
    env = dict(v.split("=", 1) for v in unit["Environment"])
    env = {k: v.replace("%d", "/run/credentials/x") for k, v in env.items()}
    example = REPO / "deploy" / "systemd" / "ingest.env.example"
    for line in example.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    env.pop("PYTHONUNBUFFERED")
    assert set(env) <= KNOWN_ENV, set(env) - KNOWN_ENV
    settings = _load(argv[3:], env, tmp_path)
    assert settings.effective_client_id == f"ingest.{instance}"
    assert client_id_allowed(settings.effective_client_id, "ingest")
    assert settings.shared_group == "ingest" and settings.mqtt_username == "ingest"
    credentials = [c.split(":", 1)[0] for c in unit["LoadCredential"]]
    assert credentials == ["mqtt_password", "influx_password"]
    assert unit["Restart"] == ["always"] and unit["DynamicUser"] == ["yes"]


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on an instance of the template, with ExecStart pointed at
    this checkout's ``jagajalan`` (verify checks that the command exists)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd)"
    here = Path(sys.executable).parent / "jagajalan"
    assert here.exists()
    text = UNIT.read_text().replace("/opt/jagajalan/venv/bin/jagajalan", str(here))
    (tmp_path / UNIT.name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / "jagajalan-ingest@1.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        done.stdout + done.stderr
    )


@pytest.mark.parametrize("doc", ["README.md", "docs/scaling.md"])
def test_documented_commands_give_each_worker_its_id(doc: str, tmp_path: Path) -> None:
    """Every ``jagajalan ingest run`` with --shared-group in the docs names a client id that
    follows the rule for its --mqtt-username, and the ids of distinct workers differ."""
    text = (REPO / doc).read_text()
    commands = re.findall(r"jagajalan ingest run(?:\\\n|[^`\n])*", text)
    shared = [c for c in commands if "--shared-group" in c]
    assert shared, f"{doc} shows no scaled-out worker"
    for command in shared:
        argv = shlex.split(command.replace("\\\n", " "))[3:]
        args = _parser().parse_args([a for a in argv if not a.startswith("...")])
        assert args.client_id, f"{doc}: {command!r} has no --client-id"
        assert re.fullmatch(r"ingest\.(\d+|N)", args.client_id), command
        if args.mqtt_username:
            assert client_id_allowed(args.client_id.replace("N", "1"), args.mqtt_username)
