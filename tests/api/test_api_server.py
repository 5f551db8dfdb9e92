"""The API's settings (options, environment, secret files, mistakes named without secrets)
and a real uvicorn server started through ``jagajalan api run``, as operators start it."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.access import open_reads
from api.app import create_app
from api.settings import settings_from
from kernel.config import ConfigError
from store.sqlite import SQLiteStore
from testkit import REPO, children
from testkit.points import GW1, MIN, T0, batch_point
from testkit.services import Mosquitto, free_port, wait_port
from tests.api.test_api import fill

with warnings.catch_warnings():
    # Starlette's TestClient asks for "httpx2"; httpx 0.28.1 is the pinned client.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


# -- settings ------------------------------------------------------------------------------


def _args(**kwargs: str) -> argparse.Namespace:
    return argparse.Namespace(**kwargs)


def test_settings_from_options_env_and_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("Tr0ub4dor&3\n")
    env = {
        "JAGAJALAN_INFLUX_URL": "http://influxdb:8086",
        "JAGAJALAN_INFLUX_USERNAME": "jagajalan",
        "JAGAJALAN_INFLUX_PASSWORD_FILE": str(secret),
        "JAGAJALAN_PORT": "9000",
    }
    s = settings_from(_args(port="8123", host=None), env)
    assert (s.port, s.host, s.influx_url, s.influx_username) == (
        8123,
        "127.0.0.1",
        "http://influxdb:8086",
        "jagajalan",
    )
    assert s.influx_password is not None
    assert s.influx_password.get_secret_value() == "Tr0ub4dor&3"
    assert "Tr0ub4dor" not in repr(s) + s.describe_store()
    assert settings_from(_args(), {}).describe_store() == "SQLite ./var/jagajalan.sqlite"


@pytest.mark.parametrize(
    ("env", "wrong"),
    [
        (
            {"JAGAJALAN_INFLUX_URL": "http://i:8086", "JAGAJALAN_INFLUX_TOKEN": "changeme"},
            "default",
        ),
        ({"JAGAJALAN_INFLUX_URL": "http://i:8086", "JAGAJALAN_INFLUX_TOKEN": " "}, "empty"),
        ({"JAGAJALAN_INFLUX_URL": "http://i:8086", "JAGAJALAN_SQLITE": "x"}, "not both"),
        ({"JAGAJALAN_INFLUX_URL": "influx:8086"}, "http://host:port"),
        ({"JAGAJALAN_BROKER_URL": "mqtt://u:pw-in-url@b:1883"}, "no credentials"),
        ({"JAGAJALAN_PORT": "http"}, "not a number"),
        (
            {"JAGAJALAN_INFLUX_USERNAME": "u", "JAGAJALAN_INFLUX_PASSWORD": "Xy7!kq2"},
            "without a URL",
        ),
    ],
)
def test_settings_refuse_mistakes_without_showing_secrets(env: dict, wrong: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from(_args(), env)
    text = info.value.render()
    assert wrong in text
    for secret in ("changeme", "pw-in-url", "Xy7!kq2"):
        assert secret not in text


# -- a real server, started the way operators start it ------------------------------------


@pytest.mark.services
def test_real_server_via_cli(tmp_path: Path, broker: Mosquitto) -> None:
    db = tmp_path / "var" / "served.sqlite"
    store = SQLiteStore(db)
    store.ensure()
    fill(store)
    port = free_port()
    env = {**os.environ, "JAGAJALAN_SQLITE": str(db), "JAGAJALAN_PORT": str(port)}
    env.pop("JAGAJALAN_INFLUX_URL", None)
    log = (tmp_path / "api.log").open("wb")
    proc = children.start(
        [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "api",
            "run",
            "--broker-url",
            broker.url,
            "--public-read",
            "all",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, timeout=30, proc=proc)
        base = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{base}/health", timeout=5)
        assert health.status_code == 200, health.text
        assert health.json()["broker"] == {"ok": True}
        assert httpx.get(f"{base}/gateways", timeout=5).json()[0]["last_seq"] == 1842
        # Another process (ingest, here the test) writes; the server sees it at once.
        store.write([batch_point(GW1, 1843, T0 + 2 * MIN)])
        assert httpx.get(f"{base}/gateways", timeout=5).json()[0]["last_seq"] == 1843
        assert httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        store.close()
        log.close()
    assert code == 0, (tmp_path / "api.log").read_text()


def test_a_query_parameter_given_twice_is_refused_naming_it(tmp_path: Path) -> None:
    """Taking the last of two values would answer a request nobody made (found by
    schemathesis: ?measurement=x&measurement=null answered for "null")."""
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    client = TestClient(create_app(store, access=open_reads()))
    r = client.get("/readings/latest?measurement=air_quality&measurement=water_level")
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert "measurement" in r.json()["message"] and "given 2 times" in r.json()["message"]
    assert client.get("/readings/latest?measurement=air_quality").status_code == 200
    store.close()
