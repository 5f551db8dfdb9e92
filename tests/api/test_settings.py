"""``api run`` settings. It never shows a secret: not in its log (DEBUG level), not in HTTP
answers, with the right InfluxDB password and with a wrong one (a real InfluxDB that checks
passwords)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import api.settings
import store
from testkit import REPO, children
from testkit.services import Mosquitto, free_port, influxd, wait_port

INFLUX_SECRET = "api-ix-4c2e8a90-never-shown"
WRONG_SECRET = "api-wrong-71d3b5f2-never-shown"


def _serve(env: dict[str, str], port: int, log: Path, broker: Mosquitto) -> list[str]:
    """Start ``api run``, collect /health and /gateways, stop it; the answers' texts."""
    argv = ["--log-level", "DEBUG", "api", "run", "--port", str(port), "--broker-url", broker.url]
    argv += ["--public-read", "all"]  # this test is about secrets in settings, not keys
    proc = children.start(
        [sys.executable, "-m", "jagajalan.cli", *argv],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, timeout=30, proc=proc)
        base = f"http://127.0.0.1:{port}"
        return [httpx.get(f"{base}{path}", timeout=10).text for path in ("/health", "/gateways")]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()


def test_the_default_sqlite_path_is_the_store_s() -> None:
    assert api.settings.DEFAULT_SQLITE_PATH == store.DEFAULT_SQLITE_PATH


@pytest.mark.services
def test_api_never_shows_a_secret(tmp_path: Path, broker: Mosquitto) -> None:
    with influxd(tmp_path / "influx", auth=True) as influx:
        create = f"CREATE USER admin WITH PASSWORD '{INFLUX_SECRET}' WITH ALL PRIVILEGES"
        assert "error" not in httpx.post(f"{influx.url}/query", params={"q": create}).text
        auth = ("admin", INFLUX_SECRET)
        r = httpx.post(f"{influx.url}/query", params={"q": "CREATE DATABASE jagajalan"}, auth=auth)
        assert r.status_code == 200 and "error" not in r.text, r.text
        (tmp_path / "wrong.pw").write_text(WRONG_SECRET + "\n")
        env = {"JAGAJALAN_INFLUX_URL": influx.url, "JAGAJALAN_INFLUX_USERNAME": "admin"}
        log = tmp_path / "api.log"
        good = _serve({**env, "JAGAJALAN_INFLUX_PASSWORD": INFLUX_SECRET}, free_port(), log, broker)
        wrong_file = {**env, "JAGAJALAN_INFLUX_PASSWORD_FILE": str(tmp_path / "wrong.pw")}
        wrong = _serve(wrong_file, free_port(), log, broker)
    assert '"store":{"ok":true' in good[0].replace(" ", "") and '"broker":{"ok":true}' in good[0]
    assert good[1] == "[]"
    assert '"error":"store_error"' in wrong[1]  # the refused password is reported...
    text = log.read_text() + "".join(good + wrong)
    assert "auth=user admin" in text and "refused the login of user 'admin'" in text
    for secret in (INFLUX_SECRET, WRONG_SECRET):
        assert secret not in text  # ...but never shown
