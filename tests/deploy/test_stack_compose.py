"""docker-compose.yml, the whole stack, checked as data (no Docker engine runs here): it is a
valid Compose file by the Compose Specification's own JSON schema (shipped in
tests/deploy/compose_spec/, from the compose-spec/compose-spec repository: see its README);
every `jagajalan` command in it parses with jagajalan's own parser; every long-running service
has a health check; every secret is a file `jagajalan stack init` makes; Grafana gets the
provisioning of dashboards/ and the data source's password under the name that file reads; the
`simulated` profile's gateways use the generated credentials over TLS. The broker's health
check command is run for real against the shipped broker."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from jagajalan.cli import build_parser
from jagajalan.stack import PASSWORDS
from testkit import REPO
from testkit.services import free_port, require_binary
from testkit.shipped_broker import shipped_broker

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SCHEMA = json.loads((Path(__file__).parent / "compose_spec" / "compose-spec.json").read_text())
ONE_SHOT = {"setup", "registry-migrate", "registry-grants", "dashboards-sites"}


def errors(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_is_valid_by_the_compose_specification() -> None:
    assert errors(COMPOSE) == []


def test_the_schema_check_catches_a_mistake() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["api"]["depends_on"]["setup"]["condition"] = "service_done"
    broken["services"]["grafana"]["restart_policy"] = "always"
    assert len(errors(broken)) == 2


def jagajalan_services() -> dict[str, list[str]]:
    """Services that run the JagaJalan image (its entrypoint is `jagajalan`): their argv."""
    return {name: s["command"] for name, s in SERVICES.items() if s.get("build") == "."}


def test_every_jagajalan_command_parses() -> None:
    commands = jagajalan_services()
    assert {"ingest-1", "analytics", "alerts", "api", "setup", "simulator"} <= set(commands)
    for name, argv in commands.items():
        args = build_parser().parse_args(argv)
        assert callable(args.func), name


def test_every_service_that_keeps_running_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] == "unless-stopped", name
        if name == "simulator":  # a load generator of the optional profile; nothing waits on it
            assert all(name not in s.get("depends_on", {}) for s in SERVICES.values())
            continue
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 1, name
        if "JAGAJALAN_METRICS_PORT" in service.get("environment", {}):
            assert service["environment"]["JAGAJALAN_METRICS_PORT"] in " ".join(check["test"])


def test_services_start_after_what_they_need_succeeded() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            want = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == {"condition": want}, (name, dependency)


def test_every_secret_is_a_file_stack_init_makes() -> None:
    files = {name: s.get("file", "") for name, s in COMPOSE["secrets"].items()}
    generated = {n for n, f in files.items() if f.startswith("./secrets/")}
    assert {Path(files[n]).name for n in generated} == {*PASSWORDS, "simulated_gateways"}
    assert files["mqtt_ca"].startswith("${MQTT_TLS_DIR:?")
    assert all(set(s) == {"file"} for s in COMPOSE["secrets"].values())  # none from .env
    mounts = " ".join(SERVICES["mosquitto"]["volumes"])
    assert "./secrets/mosquitto_passwd:/mosquitto/config/passwd:ro" in mounts
    assert "./secrets/mosquitto_acl:/mosquitto/config/acl:ro" in mounts
    for name, service in SERVICES.items():
        for variable, value in service.get("environment", {}).items():
            assert "PASSWORD" not in variable or variable.endswith("_FILE"), (name, variable)
            assert not str(value).startswith("/run/secrets/") or variable.endswith("_FILE")


def test_grafana_reads_the_shipped_provisioning_and_its_read_only_user() -> None:
    grafana = SERVICES["grafana"]
    volumes = dict(v.split(":")[:2] for v in grafana["volumes"])
    provisioning = REPO / "dashboards" / "provisioning"
    for kind in ("datasources", "dashboards"):
        assert volumes[f"./dashboards/provisioning/{kind}"] == f"/etc/grafana/provisioning/{kind}"
        assert (provisioning / kind / "jagajalan.yaml").exists()
    provider = yaml.safe_load((provisioning / "dashboards" / "jagajalan.yaml").read_text())
    assert volumes["./dashboards"] == provider["providers"][0]["options"]["path"]
    assert list((REPO / "dashboards").glob("*.json"))
    source = yaml.safe_load((provisioning / "datasources" / "jagajalan.yaml").read_text())
    source = source["datasources"][0]
    path = re.fullmatch(r"\$__file\{(.+)\}", source["secureJsonData"]["password"])[1]
    (given,) = [s for s in grafana["secrets"] if isinstance(s, dict)]
    assert given == {"source": "influx_grafana_password", "target": Path(path).name}
    assert path == f"/run/secrets/{given['target']}"
    assert source["user"] == "jagajalan_grafana"
    for variable in re.findall(r"\$\{(\w+)\}", json.dumps(source)):
        assert variable in grafana["environment"]


def test_the_simulated_profile_publishes_over_tls_with_generated_credentials() -> None:
    sim = SERVICES["simulator"]
    assert sim["profiles"] == ["simulated"]
    assert [n for n, s in SERVICES.items() if s.get("profiles")] == ["simulator"]
    args = build_parser().parse_args(sim["command"])
    assert str(args.credentials) == "/run/secrets/simulated_gateways"
    assert args.broker_url == "mqtts://mosquitto:8883"
    assert str(args.ca_file) == "/run/secrets/mqtt_ca"
    assert "mosquitto" in " ".join(_default_broker_hosts())
    assert set(sim["secrets"]) == {"simulated_gateways", "mqtt_ca"}


def test_the_broker_health_check_answers_only_while_the_broker_runs(
    tmp_path: Path, plugin: Path
) -> None:
    """The check's own command line (mosquitto_sub, an anonymous CONNECT refused with "not
    authorised"), with the port of a real broker running the shipped conf, then of nothing."""
    (kind, command) = SERVICES["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and " -p 1883 " in command
    require_binary("mosquitto_sub")
    sh = shutil.which("sh")
    with shipped_broker(tmp_path / "broker", {"ingest": "x-pw"}, plugin) as broker:
        up = subprocess.run([sh, "-c", command.replace(" 1883 ", f" {broker.port} ")], timeout=30)
    down = subprocess.run([sh, "-c", command.replace(" 1883 ", f" {free_port()} ")], timeout=30)
    assert (up.returncode, down.returncode != 0) == (0, True)


def _default_broker_hosts() -> list[str]:
    """The names in the broker certificate `stack init` makes without --broker-host."""
    from jagajalan import stack

    return stack.DEFAULT_BROKER_HOSTS


@pytest.mark.parametrize("package", ["registry", "indicators", "alerts", "dashboards"])
def test_the_image_holds_every_component_the_stack_runs(package: str) -> None:
    assert f"COPY {package} ./{package}\n" in (REPO / "Dockerfile").read_text()


def test_the_broker_image_holds_every_plugin_the_shipped_conf_loads(plugin: Path) -> None:
    """No container registry here, so the broker image is not built: each ``plugin`` line of
    deploy/mosquitto/mosquitto.conf names a file that plugin/build.sh builds (the fixture ran
    it) and deploy/mosquitto/Dockerfile copies into /mosquitto/plugins/."""
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    loaded = re.findall(r"^plugin /mosquitto/plugins/(\S+\.so)$", conf, re.MULTILINE)
    assert loaded == ["jagajalan_clientid.so", "jagajalan_ingest_gate.so"]
    copies = [
        line
        for line in (REPO / "deploy" / "mosquitto" / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY --from=build ") and line.endswith(" /mosquitto/plugins/")
    ]
    assert len(copies) == 1, copies
    for name in loaded:
        assert (plugin.parent / name).is_file(), name
        assert f"/out/{name}" in copies[0].split(), name
