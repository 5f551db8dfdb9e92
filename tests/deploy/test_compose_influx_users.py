"""docker-compose.yml gives each service only its own InfluxDB user and secret, as
store.privileges says; only the one-shot set-up holds the admin password. (Docker is not
available here: the file is checked as data, and the users and privileges themselves are
tested on a real InfluxDB in tests/store/test_setup.py.)"""

from __future__ import annotations

import re

import yaml

from store.privileges import SERVICES
from testkit import REPO

COMPOSE = REPO / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def INGEST_WORKERS(services: dict) -> list[str]:
    workers = [name for name in services if name.startswith("ingest-")]
    assert workers, "no ingest-N services in docker-compose.yml"
    return workers


def test_setup_runs_first_with_the_admin_password_that_nobody_else_gets() -> None:
    services = _compose()["services"]
    setup = services["setup"]
    assert setup["command"][:2] == ["store", "setup"] and setup["restart"] == "no"
    env = setup["environment"]
    assert env["JAGAJALAN_ADMIN_PASSWORD_FILE"] == "/run/secrets/influx_admin_password"
    for service in (*INGEST_WORKERS(services), "api"):
        assert services[service]["depends_on"]["setup"] == {
            "condition": "service_completed_successfully"
        }
    for name in ("ingest", "api"):
        assert (
            f"/run/secrets/influx_{name}_password" == env[f"JAGAJALAN_{name.upper()}_PASSWORD_FILE"]
        )
    holders = [n for n, s in services.items() if "influx_admin_password" in s.get("secrets", [])]
    assert holders == ["influxdb", "setup"]  # InfluxDB creates its admin with it


def test_each_service_logs_in_as_its_own_least_privilege_user() -> None:
    services = _compose()["services"]
    for service in (*INGEST_WORKERS(services), "api", "alerts", "analytics", "dashboards-sites"):
        name = service.split("-")[0]  # ingest-1 runs as ingest
        name = "analytics" if name == "dashboards" else name  # writes jagajalan_site
        env = services[service]["environment"]
        assert env["JAGAJALAN_INFLUX_USERNAME"] == SERVICES[name].default_username
        own = f"influx_{name}_password"
        assert env["JAGAJALAN_INFLUX_PASSWORD_FILE"] == f"/run/secrets/{own}"
        influx_secrets = [s for s in services[service]["secrets"] if s.startswith("influx_")]
        assert influx_secrets == [own], service


def test_no_default_secrets() -> None:
    text = COMPOSE.read_text()
    for variable in re.findall(r"\$\{([^}]*)\}", text):
        assert ":?" in variable, f"${{{variable}}} must refuse to start when unset"
    assert "INFLUXDB_USER_PASSWORD" not in text  # no user with more than it needs
