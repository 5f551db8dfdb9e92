"""``ingest run`` settings: stable client ids, and secrets that never reach a log line.

The log scan runs the real command against a Mosquitto and an InfluxDB that both check
passwords, at DEBUG level: with the right secrets (data flows), with a wrong InfluxDB password
and with a wrong broker password (every refusal is logged), and looks for the secrets in
everything the processes wrote."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ingest.settings import IngestRunSettings
from kernel.settings import load
from telemetry import topics
from testkit import REPO, children
from testkit.influx_setup import setup_database
from testkit.ingest import RECENT, batch_bytes, metric, scrape, wait_for
from testkit.procs import stop
from testkit.services import free_port, influxd, mosquitto

MQTT_SECRET = "mq-7f3c9a1e-never-logged"
INFLUX_SECRET = "ix-2b8d4e6f-never-logged"
WRONG_SECRET = "wrong-5a1c3e7b-never-logged"


def _settings(env: dict[str, str], **args: str) -> IngestRunSettings:
    return load(IngestRunSettings, argparse.Namespace(**args), env)


def test_the_client_id_is_given_or_the_username_never_the_host_name() -> None:
    env = {"JAGAJALAN_SQLITE": "x.sqlite"}
    assert _settings(env).effective_client_id == "ingest"
    with_user = {**env, "JAGAJALAN_MQTT_USERNAME": "ingest-a"}
    assert _settings(with_user).effective_client_id == "ingest-a"
    assert _settings(with_user, client_id="ingest-a.2").effective_client_id == "ingest-a.2"
    given = {**env, "JAGAJALAN_CLIENT_ID": "ingest.3", "JAGAJALAN_SHARED_GROUP": "ingest"}
    assert _settings(given).effective_client_id == "ingest.3"
    assert socket.gethostname() not in _settings(env).effective_client_id


def test_shared_group_without_a_client_id_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jagajalan.cli", "ingest", "run", "--shared-group", "g"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "JAGAJALAN_SQLITE": str(tmp_path / "s.sqlite")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("config error in jagajalan ingest run: 1 problem(s)")
    assert (
        "--client-id (env JAGAJALAN_CLIENT_ID): workers of a shared group each need their own "
        "stable client id, or the broker keeps dealing messages to a session nobody resumes"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def _run(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return children.start(
        [sys.executable, "-m", "jagajalan.cli", "--log-level", "DEBUG", "ingest", "run", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _publish(broker_port: int, password: str) -> None:
    import paho.mqtt.client as mqtt

    gw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, "gw-s", protocol=mqtt.MQTTv5)
    gw.username_pw_set("gw-s", password)
    gw.connect("127.0.0.1", broker_port)
    gw.loop_start()
    try:
        gw.publish(topics.readings("gw-s"), batch_bytes("gw-s", 0, RECENT), qos=1).wait_for_publish(
            10
        )
    finally:
        gw.loop_stop()
        gw.disconnect()


@pytest.mark.services
def test_ingest_never_logs_a_secret(tmp_path: Path) -> None:
    users = {"ingest": MQTT_SECRET, "gw-s": "gw-s-password-1"}
    acl = (
        "user ingest\ntopic readwrite jagajalan/v1/#\nuser gw-s\ntopic write jagajalan/v1/gw-s/#\n"
    )
    logs = [tmp_path / f"ingest-{i}.log" for i in range(3)]
    with (
        mosquitto(tmp_path / "mq", passwords=users, acl=acl) as broker,
        influxd(tmp_path / "influx", auth=True) as influx,
    ):
        create = f"CREATE USER admin WITH PASSWORD '{INFLUX_SECRET}' WITH ALL PRIVILEGES"
        assert "error" not in httpx.post(f"{influx.url}/query", params={"q": create}).text
        setup_database(influx.url, "sec", username="admin", password=INFLUX_SECRET)
        for name, secret in (("mqtt.pw", MQTT_SECRET), ("wrong.pw", WRONG_SECRET)):
            (tmp_path / name).write_text(secret + "\n")
            (tmp_path / name).chmod(0o600)
        port = free_port()
        common = [
            *("--broker-url", broker.url, "--mqtt-username", "ingest", "--client-id", "ingest.1"),
            *("--shared-group", "ingest", "--influx-url", influx.url, "--influx-db", "sec"),
            *("--influx-username", "admin", "--metrics-port", str(port), "--drain-timeout", "1"),
        ]

        # 1. The right secrets, from a file and the environment: the batch is written.
        mqtt_file = ["--mqtt-password-file", str(tmp_path / "mqtt.pw")]
        proc = _run(common + mqtt_file, {"JAGAJALAN_INFLUX_PASSWORD": INFLUX_SECRET}, logs[0])
        try:
            wait_for(lambda: metric(scrape(port), "jagajalan_ingest_connected") == 1, 30, "up")
            _publish(broker.port, users["gw-s"])
            wait_for(
                lambda: metric(scrape(port), "jagajalan_ingest_points_written_total") > 0,
                30,
                "the batch written with the password",
            )
        finally:
            assert stop(proc) == 0, logs[0].read_text()

        # 2. A wrong InfluxDB password (file): every failed write is logged.
        influx_file = ["--influx-password-file", str(tmp_path / "wrong.pw")]
        proc = _run(common + influx_file, {"JAGAJALAN_MQTT_PASSWORD": MQTT_SECRET}, logs[1])
        try:
            wait_for(lambda: "event=subscribed" in logs[1].read_text(), 30, "subscribed")
            _publish(broker.port, users["gw-s"])
            wait_for(
                lambda: "event=store_misconfigured" in logs[1].read_text(), 30, "a refused write"
            )
        finally:
            stop(proc)

        # 3. A wrong broker password: the refusal is logged.
        wrong_mqtt = ["--mqtt-password-file", str(tmp_path / "wrong.pw")]
        proc = _run(common + wrong_mqtt, {"JAGAJALAN_INFLUX_PASSWORD": INFLUX_SECRET}, logs[2])
        try:
            wait_for(lambda: "event=connect_refused" in logs[2].read_text(), 30, "a refusal")
        finally:
            stop(proc)
    text = "".join(log.read_text() for log in logs)
    assert "event=connected" in text and "Not authorized" in text
    assert "refused the login of user 'admin'" in text
    for secret in (MQTT_SECRET, INFLUX_SECRET, WRONG_SECRET):
        assert secret not in text
