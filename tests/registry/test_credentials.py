"""`jagajalan registry credentials`: the Mosquitto entry it writes lets the gateway (and only
with its new password) connect to a real Mosquitto; the printed config tables are valid."""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gateway.config import GatewaySection, MqttSection
from jagajalan.cli import main
from kernel.config import validate
from registry.credentials import mosquitto_hash, with_entry
from testkit import REPO
from testkit.services import Mosquitto, free_port

EXAMPLE = REPO / "examples" / "registry.toml"


def connects(port: int, user: str, password: str) -> bool:
    """True if the broker accepts *user* with *password* (waits for its CONNACK)."""
    answered = threading.Event()
    result: list[bool] = []

    def on_connect(client, userdata, flags, reason, properties):  # type: ignore[no-untyped-def]
        result.append(not reason.is_failure)
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK from the broker"
    finally:
        client.loop_stop()
        client.disconnect()
    return result[0]


def test_the_entry_is_mosquittos_format() -> None:
    salt = bytes(range(12))
    entry = mosquitto_hash("s3cr3t", salt)
    assert entry.startswith("$7$101$AAECAwQFBgcICQoL$") and len(entry.split("$")[-1]) == 88
    text = with_entry("a:x\nsrl-pasar-01:old\nb:y\n", "srl-pasar-01", entry)
    assert text == f"a:x\nb:y\nsrl-pasar-01:{entry}\n"


def test_issued_credentials_open_a_real_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--registry-db", str(tmp_path / "r.sqlite3")]
    assert main(["registry", "init", *db]) == 0
    assert main(["registry", "import", str(EXAMPLE), *db]) == 0
    passwd, secret = tmp_path / "passwd", tmp_path / "mqtt-password"
    port = free_port()
    argv = ["registry", "credentials", "srl-pasar-01", *db, "--mosquitto-passwd", str(passwd)]
    argv += ["--password-out", str(secret), "--broker-url", f"mqtt://127.0.0.1:{port}"]
    argv += ["--gateway-password-path", str(secret)]
    capsys.readouterr()
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "srl-pasar-01" in err and "kill -HUP" in err
    assert secret.stat().st_mode & 0o777 == 0o600 and passwd.stat().st_mode & 0o777 == 0o600
    first = secret.read_text().strip()

    config = tomllib.loads(out)
    gateway = validate(GatewaySection, config["gateway"], tmp_path / "gateway.toml")
    assert (gateway.id, gateway.latitude) == ("srl-pasar-01", -2.2985)
    mqtt_section = validate(MqttSection, config["mqtt"], tmp_path / "gateway.toml")
    assert mqtt_section.username == "srl-pasar-01" and mqtt_section.password_file == secret

    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
        "persistence false\nlog_dest stderr\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    broker = Mosquitto(port, tmp_path, conf)
    broker.start()
    try:
        assert connects(port, "srl-pasar-01", first)
        assert not connects(port, "srl-pasar-01", first + "x")
    finally:
        broker.stop()

    assert main(argv) == 0  # issued again: a new password, the old one no longer opens
    second = secret.read_text().strip()
    assert second != first and passwd.read_text().count("srl-pasar-01:") == 1
    broker.start()
    try:
        assert connects(port, "srl-pasar-01", second)
        assert not connects(port, "srl-pasar-01", first)
    finally:
        broker.stop()


def test_an_unregistered_gateway_gets_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--registry-db", str(tmp_path / "r.sqlite3")]
    assert main(["registry", "init", *db]) == 0
    passwd = tmp_path / "passwd"
    argv = ["registry", "credentials", "srl-nope-01", *db, "--mosquitto-passwd", str(passwd)]
    argv += ["--password-out", str(tmp_path / "pw"), "--broker-url", "mqtt://127.0.0.1:1883"]
    assert main([*argv, "--lang", "en"]) == 2
    assert "srl-nope-01 is not in the registry" in capsys.readouterr().err
    assert not passwd.exists()
    bad = [*argv[:-1], "http://127.0.0.1"]
    assert main(bad) == 2
    assert "--broker-url" in capsys.readouterr().err
