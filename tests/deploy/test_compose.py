"""docker-compose.yml as shipped: what it exposes to the outside. No Docker engine runs here, so
the file is checked as data; the broker config it mounts is started for real in
tests/deploy/test_broker_*.py."""

from __future__ import annotations

import yaml

from testkit import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def published(service: dict) -> list[str]:
    """Container ports a service publishes on the host."""
    out = []
    for entry in service.get("ports", []):
        text = str(entry["target"] if isinstance(entry, dict) else entry)
        out.append(text.rsplit(":", 1)[-1].split("/")[0])
    return out


def test_nothing_published_accepts_writes_without_authentication() -> None:
    """The broker is reached from outside only on its TLS listener (password file, ACL and
    client-id rule on every connection); InfluxDB and the broker's plain listener stay inside
    the stack's network; the API serves reads; Grafana asks every visitor to log in (no
    anonymous access, no sign-up, the admin's password from a secret file)."""
    ports = {name: published(svc) for name, svc in COMPOSE["services"].items()}
    assert ports["mosquitto"] == ["8883"]
    assert not ports.get("influxdb") and not ports.get("postgres")
    exposed = {name for name, p in ports.items() if p}
    assert exposed <= {"mosquitto", "api", "grafana"}, ports
    grafana = COMPOSE["services"]["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana


def test_the_broker_gets_its_certificates_from_configuration() -> None:
    volumes = COMPOSE["services"]["mosquitto"]["volumes"]
    certs = [v for v in volumes if v.endswith(":/mosquitto/certs:ro")]
    assert certs and certs[0].startswith("${MQTT_TLS_DIR:?"), volumes
