"""docker-compose.yml's `setup` step, run as the stack runs it, on a real influxd with
``auth-enabled = true``: its command and environment from the compose file, the secret files
from `jagajalan stack init` (each /run/secrets/<name> read from the generated folder), the admin
created as the influxdb image creates it (INFLUXDB_ADMIN_USER and the secret file). Then every
compose service that logs in to InfluxDB (ingest, api, alerts, analytics, dashboards sites) and
Grafana's data source (dashboards/provisioning) log in with their own user and file, and may do
exactly what store/privileges.py says: no more."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from jagajalan.cli import main
from jagajalan.stack import init
from store.privileges import ALL, READ, SERVICES, WRITE
from testkit import REPO
from testkit.influx_setup import Secured
from testkit.services import influxd

pytestmark = pytest.mark.services

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
COMPOSE_SERVICES = COMPOSE["services"]


def local(value: str, secrets: Path, url: str) -> str:
    """A compose environment value as it is on this machine: secrets from the generated
    folder, InfluxDB the test's."""
    if value.startswith("/run/secrets/"):
        return str(secrets / value.removeprefix("/run/secrets/"))
    return url if value == "http://influxdb:8086" else value


def can(url: str, user: str, password: str) -> tuple[bool, bool]:
    """(may read, may write) the jagajalan database, asked of InfluxDB itself."""
    auth = (user, password)
    read = httpx.get(
        f"{url}/query", params={"db": "jagajalan", "q": "SHOW MEASUREMENTS"}, auth=auth
    )
    assert read.status_code in (200, 401, 403), read.text
    read_ok = read.status_code == 200 and "error" not in read.text
    write = httpx.post(f"{url}/write", params={"db": "jagajalan"}, content=b"probe v=1", auth=auth)
    assert write.status_code in (204, 401, 403), write.text
    return read_ok, write.status_code == 204


def test_the_setup_step_gives_each_service_exactly_its_privilege(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    init(secrets)
    admin = COMPOSE_SERVICES["influxdb"]["environment"]["INFLUXDB_ADMIN_USER"]
    with influxd(tmp_path / "influx", auth=True) as server:
        password = (secrets / "influx_admin_password").read_text().strip()
        Secured(server, tmp_path / "unused", admin, password).create_admin()
        setup = COMPOSE_SERVICES["setup"]
        for variable, value in setup["environment"].items():
            monkeypatch.setenv(variable, local(value, secrets, server.url))
        command = list(setup["command"])
        command[command.index("--wait") + 1] = "10"
        assert main(command) == 0
        expected = {READ: (True, False), WRITE: (False, True), ALL: (True, True)}
        checked = set()
        for name, service in COMPOSE_SERVICES.items():
            env = service.get("environment", {})
            if "JAGAJALAN_INFLUX_USERNAME" not in env:
                continue
            user = env["JAGAJALAN_INFLUX_USERNAME"]
            (owner,) = [s for s in SERVICES.values() if s.default_username == user]
            file = Path(local(env["JAGAJALAN_INFLUX_PASSWORD_FILE"], secrets, server.url))
            got = can(server.url, user, file.read_text().strip())
            assert got == expected[owner.privilege], name
            assert can(server.url, user, "wrong-password-123") == (False, False)
            checked.add(owner.service)
        source = yaml.safe_load(
            (REPO / "dashboards/provisioning/datasources/jagajalan.yaml").read_text()
        )["datasources"][0]
        grafana = (secrets / "influx_grafana_password").read_text().strip()
        assert can(server.url, source["user"], grafana) == (True, False)
    assert checked == {"ingest", "api", "alerts", "analytics"}
