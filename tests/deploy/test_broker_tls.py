"""The shipped broker offers MQTT over TLS (deploy/mosquitto/mosquitto.conf, listener 8883), as
examples/gateway.toml expects: a gateway connects with the CA it is given, plain MQTT and a
wrong CA get nowhere on that port. Real Mosquitto with the shipped conf, plugin and ACL
(testkit/shipped_broker.py), real certificates made by openssl for the test.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from telemetry import topics
from testkit.gateway import make_tls_files
from testkit.shipped_broker import shipped_broker

pytestmark = pytest.mark.services

USERS = {"srl-tls-01": "tls-secret-1"}


@pytest.fixture
def deployed(tmp_path: Path, plugin: Path):
    with shipped_broker(tmp_path / "broker", USERS, plugin) as broker:
        yield broker


def try_connect(port: int, ca: Path | None, timeout: float = 5.0) -> str:
    """One MQTT 5 login as the gateway on *port*; TLS with *ca* unless None. Returns the
    CONNACK reason, or what stopped the connection before it."""
    user = "srl-tls-01"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS[user])
    if ca is not None:
        c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    answer: list[str] = []
    done = threading.Event()

    def on_connect(_c, _u, _f, reason, _p) -> None:
        answer.append(str(reason))
        if not reason.is_failure:
            info = c.publish(topics.status(user), b'{"state": "online"}', qos=1)
            info.wait_for_publish(5)
            answer.append("published")
        done.set()

    c.on_connect = on_connect
    c.on_disconnect = lambda *_: done.set()
    try:
        c.connect("127.0.0.1", port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"
    c.loop_start()
    done.wait(timeout)
    c.loop_stop()
    c.disconnect()
    return " ".join(answer) or "no answer"


def test_a_gateway_logs_in_and_publishes_over_tls(deployed) -> None:
    assert try_connect(deployed.tls_port, deployed.ca_file) == "Success published"


def test_plain_mqtt_gets_nothing_from_the_tls_port(deployed) -> None:
    assert "Success" not in try_connect(deployed.tls_port, None)


def test_a_server_the_gateway_cannot_verify_is_refused(deployed, tmp_path: Path) -> None:
    other = make_tls_files(tmp_path / "other-ca")["ca.pem"]
    answer = try_connect(deployed.tls_port, other)
    assert "CERTIFICATE_VERIFY_FAILED" in answer, answer
