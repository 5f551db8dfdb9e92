"""A real ``jagajalan api run`` with keys from a registry made by ``jagajalan registry``: every
line it logs (DEBUG) while keys are accepted, refused, rate-limited and revoked holds neither
a key's secret nor its stored hash. And ``--public-read`` that names no group stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from jagajalan.cli import main
from registry.db import engine_for
from registry.models import ApiKey
from testkit import children
from testkit.services import free_port, wait_port


def jagajalan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jagajalan.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_secrets_never_in_logs(tmp_path: Path) -> None:
    reg = ["--registry-db", str(tmp_path / "registry.sqlite3")]
    jagajalan("registry", "init", *reg, cwd=tmp_path)
    made = {
        role: jagajalan("registry", "key", "create", "--role", role, *reg, cwd=tmp_path)
        for role in ("viewer", "admin")
    }
    whole = {role: done.stdout.strip() for role, done in made.items()}
    for role, done in made.items():
        assert whole[role].startswith("jj_") and whole[role] not in done.stderr
    engine = engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    with Session(engine) as session:
        hashes = [row.key_hash for row in session.scalars(select(ApiKey))]
    engine.dispose()

    port, log = free_port(), tmp_path / "api.log"
    argv = ["--log-level", "DEBUG", "api", "run", "--port", str(port), *reg]
    argv += ["--sqlite", str(tmp_path / "store.sqlite"), "--rate-viewer", "1", "--rate-burst", "3"]
    proc = children.start(
        [sys.executable, "-m", "jagajalan.cli", *argv],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    viewer, admin = whole["viewer"], whole["admin"]
    try:
        wait_port(port, timeout=30, proc=proc)
        codes = [
            httpx.get(
                f"{base}/gateways", headers={"Authorization": f"Bearer {viewer}"}
            ).status_code,
            httpx.get(f"{base}/keys", headers={"X-API-Key": viewer}).status_code,
            httpx.get(f"{base}/gateways", headers={"X-API-Key": viewer[:-2] + "xx"}).status_code,
            httpx.get(f"{base}/gateways", headers={"X-API-Key": viewer}).status_code,
            httpx.get(f"{base}/gateways", headers={"X-API-Key": viewer}).status_code,
            httpx.get(f"{base}/keys", headers={"X-API-Key": admin}).status_code,
            httpx.get(f"{base}/gateways").status_code,
        ]
        assert codes == [200, 403, 401, 200, 429, 200, 401]
        jagajalan("registry", "key", "revoke", viewer.split("_")[1], *reg, cwd=tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()
    text = log.read_text()
    assert "API keys from the registry" in text and "public reads: none" in text  # it logged
    for secret in (viewer, admin, *(k.split("_", 2)[2] for k in (viewer, admin)), *hashes):
        assert secret not in text
        assert secret.split("$")[-1] not in text


def test_a_public_group_that_does_not_exist_stops_the_api(tmp_path: Path, capsys) -> None:
    store = ["--sqlite", str(tmp_path / "s.sqlite"), "--registry-db", str(tmp_path / "r.db")]
    assert main(["api", "run", *store, "--public-read", "gateway"]) == 2
    assert main(["api", "run", *store, "--public-read", "Gateways!"]) == 2
    assert "--public-read" in capsys.readouterr().err
