"""The updater's health check with the real gateway: a release whose command is the real
`gateway run` (this checkout's, through a wrapper script: building a venv from wheels per test
would take minutes) against a real Mosquitto. Updating a stand-in old release to it commits
once the real gateway has published its status; the same release configured for a broker that
cannot be reached never publishes, and the update is rolled back and reported.

Faked: the signature (test verifier) and systemd (kit.Supervisor). The release's version is the
package's own (kernel.__version__), which is what the real gateway reports.
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from firmware_tools.gateway_update.checks import HealthFile
from firmware_tools.gateway_update.layout import Layout
from firmware_tools.gateway_update.updater import update
from kernel import __version__, alive
from testkit import REPO
from testkit.gateway import emit_device, write_config
from testkit.services import Mosquitto, free_port

from .kit import INSTALL, Supervisor, runs, tar_verifier, write_payload

pytestmark = pytest.mark.services

WRAPPER = """#!/bin/sh
if [ "${{1:-}}" = "--version" ]; then echo "jagajalan {version}"; exit 0; fi
cd {repo}
PYTHONPATH={repo} exec {python} -m testkit.gateway_cli gateway run --config {config}
"""


def real_release(folder: Path, config: Path) -> Path:
    top = f"jagajalan-gateway-{__version__}-x86_64"
    files = {
        "install.sh": INSTALL.format(fail=""),
        "jagajalan": WRAPPER.format(
            version=__version__, repo=REPO, python=sys.executable, config=config
        ),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    path = folder / f"jagajalan-gateway-{__version__}.tar.gz"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("reachable", [True, False])
def test_the_real_gateway_passes_or_fails_the_health_check(
    broker: Mosquitto, tmp_path: Path, reachable: bool
) -> None:
    url = broker.url if reachable else f"mqtt://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, f"gw-upd-{int(reachable)}", url, [emit_device("c1", 3)])
    health_file = alive.health_file_of(config)
    root = tmp_path / "opt"
    root.mkdir()
    service = Supervisor(root, health_file)
    layout = Layout(root)
    check = HealthFile(health_file, timeout=20, poll=0.1)
    try:
        old = write_payload(tmp_path, "0.0.9")  # a stand-in old release
        assert update(tar_verifier(old), layout=layout, service=service, health=check).result == (
            "committed"
        )
        check.timeout = 20 if reachable else 5
        new = real_release(tmp_path, config)
        outcome = update(tar_verifier(new), layout=layout, service=service, health=check)
        if reachable:
            assert (outcome.result, outcome.key) == ("committed", "health.ok_published")
            assert runs(root) == __version__
            record = alive.read_alive(health_file)
            assert (record["phase"], record["version"]) == ("published", __version__)
        else:
            assert (outcome.result, outcome.key, outcome.detail) == (
                "rolled_back",
                "health.not_published",
                "running",
            )
            assert runs(root) == "0.0.9"
    finally:
        service.stop()
