"""`make gateway-bundle` (scripts/gateway_bundle.py): a tarball that installs a gateway with no
network, holding only the gateway's dependency set (docs/gateway-install.md, section 3).

The bundle for this machine's architecture is installed for real, offline, into a fresh venv:
`jagajalan gateway --help` and `gateway check-config` run there, and a server command says
which extra is missing. The 32-bit Raspberry Pi OS bundle (armv7l) cannot run here; its wheels
are checked against the tags pip accepts on such a gateway. Building needs the package index
(as `make install` does).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from testkit import REPO

SCRIPT = REPO / "scripts" / "gateway_bundle.py"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _script_module():
    spec = importlib.util.spec_from_file_location("gateway_bundle", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gateway_set(machine: str) -> set[str]:
    """What the gateway needs on *machine*, as locked (tests/deploy/test_locks.py)."""
    from tests.deploy.test_locks import closure

    return closure(PROJECT["dependencies"], machine)


def build(arch: str, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--arch", arch, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (bundle,) = out.glob(f"jagajalan-gateway-*-{arch}.tar.gz")
    assert bundle.name in done.stdout
    return bundle


def wheels_in(bundle: Path) -> list[str]:
    with tarfile.open(bundle) as tar:
        return [Path(n).name for n in tar.getnames() if n.endswith(".whl")]


def test_the_bundle_installs_offline_and_runs_the_gateway(tmp_path: Path) -> None:
    arch = platform.machine()
    assert arch in _script_module().ARCHES
    bundle = build(arch, tmp_path / "dist")
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path / "usb", filter="data")
    (top,) = (tmp_path / "usb").iterdir()
    assert (top / "src" / "deploy" / "systemd" / "jagajalan-gateway.service").is_file()
    assert (top / "src" / "examples" / "gateway.toml").is_file()

    prefix = tmp_path / "opt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")  # no index, no machine config
    done = subprocess.run(
        ["sh", str(top / "install.sh"), str(prefix)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    venv = prefix / "venv" / "bin"

    listed = subprocess.run(
        [str(venv / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    installed = {canonicalize_name(Requirement(line).name) for line in listed}
    assert installed - {"pip", "setuptools"} == gateway_set(arch) | {"jagajalan"}

    cli = str(venv / "jagajalan")
    assert subprocess.run([cli, "gateway", "--help"], capture_output=True, env=env).returncode == 0
    secret = tmp_path / "mqtt-password"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    (tmp_path / "ca.crt").write_text("")
    config = (REPO / "examples" / "gateway.toml").read_text()
    config = config.replace("/etc/jagajalan/mqtt-password", str(secret))
    config = config.replace("/etc/jagajalan/ca.crt", str(tmp_path / "ca.crt"))
    (tmp_path / "gateway.toml").write_text(config)
    check = subprocess.run(
        [cli, "gateway", "check-config", "--config", str(tmp_path / "gateway.toml")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "5 perangkat:" in check.stdout  # check-config speaks Bahasa Indonesia by default

    server = subprocess.run(
        [cli, "ingest", "run", "--broker-url", "mqtt://127.0.0.1:9"],
        capture_output=True,
        text=True,
        env={**env, "JAGAJALAN_LANG": "en"},
    )
    assert server.returncode == 1
    assert "jagajalan ingest needs the server-side packages" in server.stderr, server.stderr
    assert "'jagajalan[server]'" in server.stderr
    assert "Traceback" not in server.stderr


def test_the_32_bit_raspberry_pi_bundle_needs_no_compiler(tmp_path: Path) -> None:
    arch = "armv7l"
    platforms = _script_module().platforms(arch)
    accepted = {
        *cpython_tags((3, 11), abis=["cp311"], platforms=platforms),
        *compatible_tags((3, 11), "cp311", platforms=platforms),
    }
    wheels = wheels_in(build(arch, tmp_path))
    names = set()
    for wheel in wheels:
        name, _, _, tags = parse_wheel_filename(wheel)
        assert tags & accepted, f"{wheel} does not install on {arch} with CPython 3.11"
        names.add(name)
    assert names == gateway_set(arch) | {"jagajalan"}
    # cffi (under cryptography) has no armv7l wheel: left out by pyproject's marker there
    assert not names & {"cryptography", "cffi"}
    (msgpack,) = (w for w in wheels if w.startswith("msgpack-"))
    assert msgpack.endswith("-py3-none-any.whl")  # no armv7l wheel on PyPI: built pure here
    # JagaJalan's own wheel is pure too: ingest's compiled fast paths are left out (setup.py)
    (ours,) = (w for w in wheels if w.startswith("jagajalan-"))
    assert ours.endswith("-py3-none-any.whl"), ours
