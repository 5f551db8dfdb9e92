"""`jagajalan stack init` makes every secret of the stack, and what it makes works: a real
Mosquitto 2.0 runs with the shipped mosquitto.conf and the generated password file, ACL and TLS
files (only the paths and listener addresses changed, testkit/shipped_broker.py). A simulated
gateway logs in over TLS with the CA it is given and may publish only its own topics; the TLS
port refuses plain MQTT; the service users have what the ACL gives them."""

from __future__ import annotations

import shutil
import ssl
import stat
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from jagajalan.cli import main
from jagajalan.stack import MQTT_USERS, PASSWORDS, TLS_FILES, init
from testkit.services import Mosquitto, free_port
from testkit.shipped_broker import write_shipped_conf


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stack") / "secrets"
    assert main(["stack", "init", "--dir", str(directory), "--broker-host", "localhost"]) == 0
    return directory


def secret(made: Path, name: str) -> str:
    return (made / name).read_text().strip()


def simulated(made: Path) -> dict[str, str]:
    lines = (made / "simulated_gateways").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines)


def test_every_secret_is_made_random_and_kept_private(made: Path) -> None:
    values = [secret(made, name) for name in PASSWORDS]
    values += list(simulated(made).values())
    assert len(set(values)) == len(values) and all(len(v) >= 32 for v in values)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700  # other host users see nothing
    assert stat.S_IMODE((made / "tls" / "ca.key").stat().st_mode) == 0o600
    passwd = (made / "mosquitto_passwd").read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == sorted(
        [*MQTT_USERS, *simulated(made)]
    )
    for value in values:
        assert value not in passwd  # hashed ($7$, PBKDF2-SHA512), never the password
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in passwd.splitlines())


def test_running_it_again_keeps_every_file_and_other_entries(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    init(directory)
    before = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    with (directory / "mosquitto_passwd").open("a") as f:
        f.write("srl-added-01:$7$101$AAAA$BBBB\n")  # a gateway added by `registry credentials`
    (directory / "mqtt_alerts_password").unlink()
    made = init(directory)
    assert made == [directory / "mqtt_alerts_password", directory / "mosquitto_passwd"]
    lines = (directory / "mosquitto_passwd").read_text().splitlines()
    assert "srl-added-01:$7$101$AAAA$BBBB" in lines
    after = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    changed = {p.name for p in before if before[p] != after.get(p)}
    assert changed == {"mqtt_alerts_password", "mosquitto_passwd"}


@pytest.fixture(scope="module")
def broker(made: Path, plugin: Path, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("broker")
    shutil.copytree(made / "tls", workdir / "certs")
    shutil.copy(made / "mosquitto_passwd", workdir / "passwd")
    shutil.copy(made / "mosquitto_acl", workdir / "acl")
    port, tls_port = free_port(), free_port()
    conf = write_shipped_conf(workdir, port, plugin, tls_port=tls_port)
    running = Mosquitto(port, workdir, conf)
    running.tls_port = tls_port  # type: ignore[attr-defined]
    running.start()
    yield running
    running.stop()


class Session:
    """One MQTT 5 login, driven from the test's own thread (no paho network thread: a TLS
    socket shared by two threads fails now and then); records CONNACK, PUBACK reasons and
    messages."""

    def __init__(self, port: int, user: str, password: str, ca: Path | None = None) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(user, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.connack: list[str] = []
        self.got: list[tuple[str, bytes]] = []
        self.acks: dict[int, object] = {}
        self.subscribed = False
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.connack.append(str(reason))
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload))
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda *_: setattr(self, "subscribed", True)
        self.client.connect("localhost" if ca else "127.0.0.1", port, keepalive=10)
        self.pump(lambda: self.connack, f"{user}'s CONNACK")

    def pump(self, done, what: str, timeout: float = 10) -> None:
        """Runs the client's network loop until *done()*."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"no {what} within {timeout} s"
            self.client.loop(0.05)

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        self.pump(lambda: self.subscribed, f"SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes) -> str:
        info = self.client.publish(topic, payload, qos=1)
        self.pump(lambda: info.mid in self.acks, f"PUBACK for {topic}")
        return self.acks[info.mid].getName()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.client.disconnect()


def test_a_simulated_gateway_publishes_its_own_topics_over_tls_only(made: Path, broker) -> None:
    ingest = Session(broker.port, "ingest", secret(made, "mqtt_ingest_password"))
    ingest.subscribe("jagajalan/v1/+/readings")
    gateways = simulated(made)
    own, other = sorted(gateways)
    ca = made / "tls" / "ca.crt"
    gateway = Session(broker.tls_port, own, gateways[own], ca)
    assert gateway.connack == ["Success"]
    assert gateway.publish(f"jagajalan/v1/{own}/readings", b"mine") == "Success"
    # Mosquitto closes the connection after a refused publish: one refusal per session
    assert gateway.publish(f"jagajalan/v1/{other}/readings", b"forged") == "Not authorized"
    gateway = Session(broker.tls_port, own, gateways[own], ca)
    assert gateway.publish("jagajalan/v1/alerts/x", b"forged") == "Not authorized"
    ingest.pump(lambda: ingest.got, "the gateway's reading at ingest")
    assert ingest.got == [(f"jagajalan/v1/{own}/readings", b"mine")]
    gateway.close()
    ingest.close()


def test_the_tls_listener_refuses_plain_mqtt_and_wrong_passwords(made: Path, broker) -> None:
    own, password = sorted(simulated(made).items())[0]
    plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=own, protocol=mqtt.MQTTv5)
    plain.username_pw_set(own, password)
    answered: list[str] = []
    plain.on_connect = lambda _c, _u, _f, reason, _p: answered.append(str(reason))
    ended = threading.Event()
    plain.on_disconnect = lambda *_: ended.set()
    plain.connect("127.0.0.1", broker.tls_port, keepalive=5)
    plain.loop_start()
    assert ended.wait(10)  # the TLS listener drops the plain CONNECT
    plain.loop_stop()
    assert answered == []
    wrong = Session(broker.tls_port, own, password + "x", made / "tls" / "ca.crt")
    assert wrong.connack == ["Not authorized"]
    wrong.close()


def test_alerts_reads_readings_and_publishes_alerts_only(made: Path, broker) -> None:
    alerts = Session(broker.port, "alerts", secret(made, "mqtt_alerts_password"))
    alerts.subscribe("jagajalan/v1/+/readings")
    own, password = sorted(simulated(made).items())[0]
    gateway = Session(broker.port, own, password)
    assert gateway.publish(f"jagajalan/v1/{own}/readings", b"r") == "Success"
    alerts.pump(lambda: alerts.got, "the reading at alerts")
    assert alerts.got == [(f"jagajalan/v1/{own}/readings", b"r")]
    # accepted (no one subscribes to alerts here), not refused
    assert alerts.publish("jagajalan/v1/alerts/ops", b"{}") == "No matching subscribers"
    assert alerts.publish(f"jagajalan/v1/{own}/readings", b"forged") == "Not authorized"
    gateway.close()
    alerts.close()


def test_the_generated_tls_files_are_the_broker_and_its_ca(made: Path) -> None:
    assert sorted(p.name for p in (made / "tls").iterdir()) == sorted(TLS_FILES)
    context = ssl.create_default_context(cafile=str(made / "tls" / "ca.crt"))
    context.load_cert_chain(made / "tls" / "server.crt", made / "tls" / "server.key")


def test_the_simulated_profiles_command_publishes_through_the_generated_files(
    made: Path, broker
) -> None:
    """docker-compose.yml's `simulator` command as it is, only the broker's address, the files'
    paths and the duration changed: every simulated gateway logs in over TLS with its generated
    password and its readings reach ingest."""
    import yaml

    from testkit import REPO

    command = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["simulator"]
    argv = list(command["command"])
    local = {
        "/run/secrets/simulated_gateways": str(made / "simulated_gateways"),
        "/run/secrets/mqtt_ca": str(made / "tls" / "ca.crt"),
        "mqtts://mosquitto:8883": f"mqtts://localhost:{broker.tls_port}",
    }
    argv = [local.get(word, word) for word in argv]
    argv[argv.index("--duration") + 1] = "3"
    argv[argv.index("--rate") + 1] = "2"
    ingest = Session(broker.port, "ingest", secret(made, "mqtt_ingest_password"))
    ingest.subscribe("jagajalan/v1/+/readings")
    assert main(argv) == 0
    senders = set(simulated(made))
    ingest.pump(lambda: {t.split("/")[2] for t, _ in ingest.got} == senders, "both gateways")
    ingest.close()
