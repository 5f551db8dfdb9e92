"""The shipped broker lets a client connect only with client id == its username or
"<username>.<anything>" (deploy/mosquitto/plugin/jagajalan_clientid.c), and the password file
still decides about the password.

Everything is real: Mosquitto 2.0 runs the shipped mosquitto.conf with acl.example, a password
file made by mosquitto_passwd and the plugin compiled by the shipped build.sh
(testkit/shipped_broker.py); the clients are paho-mqtt over MQTT 5. A watcher (user
``api``, which acl.example lets read every status topic) sees each Last Will the broker sends.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kernel.mqtt import negotiate_protocol, parse_url
from telemetry import topics
from testkit.ingest import wait_for
from testkit.services import Mosquitto
from testkit.shipped_broker import shipped_broker, write_passwords

pytestmark = pytest.mark.services

USERS = {
    "gw-a": "a-secret-1",
    "gw-b": "b-secret-2",
    "ingest": "i-secret-3",
    "api": "api-secret-4",
    "ops.x": "ops-secret-5",
    "rollout": "rollout-secret-6",
}
SHARED = "$share/ingest/jagajalan/v1/+/readings"


@pytest.fixture
def deployed(tmp_path: Path, plugin: Path):
    with shipped_broker(tmp_path / "broker", USERS, plugin) as broker:
        yield broker


class Peer:
    """A long-lived MQTT 5 client on its own network thread that records what happens to it.

    It does not reconnect within a test (60 s delay): a peer the broker drops stays dropped,
    and the drop shows in ``disconnects``.
    """

    def __init__(
        self,
        broker: Mosquitto,
        user: str,
        client_id: str,
        *,
        will: bool = False,
        persistent: bool = False,
    ) -> None:
        self.client_id = client_id
        self.connects: list[tuple[ReasonCode, bool]] = []  # (reason, session present)
        self.disconnects: list[ReasonCode] = []
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, ReasonCode] = {}
        self._subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, USERS[user])
        if will:  # what the gateway sets: its retained "offline" status
            c.will_set(topics.status(user), b"offline", qos=1, retain=True)
        c.reconnect_delay_set(60, 60)
        c.on_connect = lambda _c, _u, flags, rc, _p: self.connects.append(
            (rc, flags.session_present)
        )
        c.on_disconnect = lambda _c, _u, _f, rc, _p: self.disconnects.append(rc)
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        c.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, rc)
        c.on_subscribe = lambda *_: self._subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600 if persistent else 0
        c.connect("127.0.0.1", broker.port, clean_start=not persistent, properties=props)
        c.loop_start()
        self.client = c
        wait_for(lambda: self.connects, 10, f"the CONNACK for {client_id}")
        assert not self.connects[0][0].is_failure, (client_id, self.connects)

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10), f"{self.client_id}: no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert not self.acks[info.mid].is_failure, (self.client_id, topic, self.acks[info.mid])

    def payloads(self) -> list[bytes]:
        return [payload for _, payload in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect_once(
    broker: Mosquitto,
    user: str,
    client_id: str,
    password: str | None = None,
    properties: Properties | None = None,
) -> str:
    """One MQTT 5 CONNECT; the name of the CONNACK reason, on this thread (no reconnects)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS.get(user, "") if password is None else password)
    answers: list[ReasonCode] = []
    closed = threading.Event()
    c.on_connect = lambda _c, _u, _f, rc, _p: answers.append(rc)
    c.on_disconnect = lambda *_: closed.set()
    c.connect("127.0.0.1", broker.port, properties=properties)
    deadline = time.monotonic() + 10
    while not answers and time.monotonic() < deadline:
        c.loop(0.05)
    if not answers:
        raise AssertionError(f"no CONNACK for {user}/{client_id!r} within 10 s")
    c.disconnect()
    while not closed.is_set() and time.monotonic() < deadline:
        c.loop(0.05)
    return answers[0].getName()


def stopped_log(broker: Mosquitto) -> str:
    broker.stop()  # Mosquitto buffers its stdout log; stopping flushes it
    return broker.log.read_text()


def test_a_gateway_cannot_take_over_another_gateways_client_id(deployed) -> None:
    b = Peer(deployed, "gw-b", "gw-b", will=True)
    b.subscribe("jagajalan/v1/gw-b/cmd")
    b.publish(topics.status("gw-b"), b"online", retain=True)
    watcher = Peer(deployed, "api", "api.watch")
    watcher.subscribe(topics.status("gw-b"))
    wait_for(lambda: watcher.payloads() == [b"online"], 10, "B's retained status")

    assert connect_once(deployed, "gw-a", "gw-b") == "Not authorized"

    # A Last Will would have gone out while A's CONNECT was handled, before this publish.
    b.publish(topics.status("gw-b"), b"still-here", retain=True)
    wait_for(lambda: len(watcher.messages) >= 2, 10, "B's second status")
    assert watcher.payloads() == [b"online", b"still-here"]
    assert [rc.getName() for rc, _ in b.connects] == ["Success"]
    assert b.disconnects == [] and b.client.is_connected()
    assert b.messages == []
    b.close()
    watcher.close()
    log = stopped_log(deployed)
    notice = "jagajalan_clientid: refused client id 'gw-b' for username 'gw-a'"
    assert log.count(notice) == 1, log
    assert not any(password in log for password in USERS.values())


def test_without_the_plugin_the_same_connect_drops_b_and_publishes_its_will(
    tmp_path: Path,
) -> None:
    """The defect the plugin closes (the shipped conf minus its plugin line), and proof that
    the test above would see a takeover: B dropped, B's Last Will at the watcher."""
    with shipped_broker(tmp_path / "bare", USERS, plugin=None) as bare:
        b = Peer(bare, "gw-b", "gw-b", will=True)
        b.publish(topics.status("gw-b"), b"online", retain=True)
        watcher = Peer(bare, "api", "api.watch")
        watcher.subscribe(topics.status("gw-b"))
        wait_for(lambda: watcher.payloads() == [b"online"], 10, "B's retained status")

        assert connect_once(bare, "gw-a", "gw-b") == "Success"

        wait_for(lambda: b.disconnects, 10, "B dropped")  # 2.0.11 just closes B's socket
        wait_for(lambda: b"offline" in watcher.payloads(), 10, "B's Last Will")
        b.client.loop_stop()
        watcher.close()


def test_a_gateway_and_its_doctor_connect_side_by_side(deployed) -> None:
    a = Peer(deployed, "gw-a", "gw-a", will=True)
    a.publish(topics.status("gw-a"), b"online", retain=True)
    watcher = Peer(deployed, "api", "api.watch")
    watcher.subscribe(topics.status("gw-a"))
    wait_for(lambda: watcher.payloads() == [b"online"], 10, "A's retained status")

    doctor = Peer(deployed, "gw-a", "gw-a.doctor.1a2b3c4d")  # asserts its CONNACK is Success
    assert a.client.is_connected() and doctor.client.is_connected()
    doctor.close()

    a.publish(topics.status("gw-a"), b"still-here", retain=True)
    wait_for(lambda: len(watcher.messages) >= 2, 10, "A's second status")
    assert watcher.payloads() == [b"online", b"still-here"]
    assert a.disconnects == [] and len(a.connects) == 1
    a.close()
    watcher.close()


def test_client_ids_outside_the_rule_are_refused_and_logged(deployed) -> None:
    refused = [
        ("gw-a", "gw-a-doctor"),  # "-" is not the separator: it would let srl-01 be srl-01-x
        ("gw-a", "gw-ax"),
        ("gw-a", "gw"),
        ("gw-a", "GW-A"),
        ("gw-a", "gw-b"),
        ("gw-a", ""),  # Mosquitto assigns "auto-<uuid>" before the plugin sees it
        ("ingest", "ingest-1"),  # the old worker id form
        ("api", "jagajalan-health-1a2b3c4d"),  # the API probe's old id form
    ]
    answers = {pair: connect_once(deployed, *pair) for pair in refused}
    assert answers == {pair: "Not authorized" for pair in refused}
    log = stopped_log(deployed)
    for user, client_id in refused:
        shown = client_id or "auto-"
        assert f"refused client id '{shown}" in log and f"for username '{user}'" in log, log
    assert not any(password in log for password in USERS.values())


def test_extended_authentication_cannot_get_around_the_rule(deployed) -> None:
    """A CONNECT with an MQTT 5 Authentication Method skips basic auth (and so the plugin);
    the shipped broker has no extended-auth plugin, so it refuses such a CONNECT."""
    props = Properties(PacketTypes.CONNECT)
    props.AuthenticationMethod = "SCRAM-SHA-1"
    answer = connect_once(deployed, "gw-a", "gw-b", properties=props)
    assert answer == "Bad authentication method"


def test_a_username_with_a_dot_is_refused(deployed) -> None:
    """User "ops" could otherwise take the client id "ops.x" of user "ops.x"."""
    assert connect_once(deployed, "ops.x", "ops.x") == "Not authorized"
    log = stopped_log(deployed)
    assert "refused username 'ops.x' (client id 'ops.x'): a username must not contain '.'" in log


def test_ingest_workers_share_a_username_and_keep_their_sessions(deployed) -> None:
    one = Peer(deployed, "ingest", "ingest.1", persistent=True)
    one.subscribe(SHARED)
    two = Peer(deployed, "ingest", "ingest.2", persistent=True)
    two.subscribe(SHARED)
    gateway = Peer(deployed, "gw-a", "gw-a")
    for i in range(10):
        gateway.publish(topics.readings("gw-a"), b"%d" % i)
    wait_for(lambda: len(one.messages) + len(two.messages) == 10, 10, "all 10 readings")
    assert one.messages and two.messages  # both sessions receive their share
    assert one.disconnects == [] and two.disconnects == []
    one.close()
    two.close()
    gateway.close()

    again = [Peer(deployed, "ingest", cid, persistent=True) for cid in ("ingest.1", "ingest.2")]
    assert [peer.connects[0][1] for peer in again] == [True, True]  # session present
    for peer in again:
        peer.close()


def test_the_password_file_still_decides_for_an_allowed_client_id(deployed) -> None:
    """The plugin defers for an allowed id, and only then does password_file check the
    password: Mosquitto 2.0 runs plugin callbacks before its password-file check."""
    wrong = {
        ("gw-a", "gw-a", "not-the-password"),
        ("gw-a", "gw-a.doctor.1a2b3c4d", "not-the-password"),
        ("gw-a", "gw-a", USERS["gw-b"]),  # another user's password
        ("gw-z", "gw-z", "whatever"),  # not in the password file
    }
    answers = {attempt: connect_once(deployed, *attempt) for attempt in wrong}
    assert answers == {attempt: "Not authorized" for attempt in wrong}
    assert connect_once(deployed, "gw-a", "gw-a") == "Success"
    log = stopped_log(deployed)
    assert "jagajalan_clientid" not in log  # the plugin deferred: the password file refused


def test_the_rule_and_the_password_check_survive_a_reload(deployed) -> None:
    """SIGHUP (how operators apply a new password file) re-reads the password file and
    re-registers Mosquitto's own check; the plugin's callback must still come first."""
    users = {**USERS, "gw-c": "c-secret-6"}
    write_passwords(deployed.workdir / "passwd", users)
    deployed.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: connect_once(deployed, "gw-c", "gw-c", users["gw-c"]) == "Success",
        10,
        "gw-c, added to the password file, to be let in after SIGHUP",
    )
    assert connect_once(deployed, "gw-c", "gw-a", users["gw-c"]) == "Not authorized"
    assert connect_once(deployed, "gw-a", "gw-a", "not-the-password") == "Not authorized"
    assert connect_once(deployed, "gw-a", "gw-a.doctor.5e6f7a8b") == "Success"
    log = stopped_log(deployed)
    assert log.count("jagajalan_clientid: refused client id") == 1, log


def test_the_plugin_refuses_options_naming_the_option(tmp_path: Path, plugin: Path) -> None:
    """A plugin_opt_* line is a configuration mistake: the broker does not start."""
    with (
        pytest.raises(RuntimeError, match="exited"),
        shipped_broker(tmp_path / "opt", USERS, plugin, plugin_options="plugin_opt_mode loose\n"),
    ):
        pass
    log = (tmp_path / "opt" / "mosquitto.log").read_text()
    assert "jagajalan_clientid: takes no options, but got plugin_opt_mode" in log


def test_the_protocol_probe_connects_within_the_rule(deployed) -> None:
    """Gateways, ingest and the fleet ask the broker for MQTT 5 with their own credentials
    before connecting (kernel.mqtt.negotiate_protocol): the probe's client id must pass the
    rule, or every start costs a refused login."""
    for user in ("gw-a", "ingest"):
        address = parse_url(deployed.url)
        assert negotiate_protocol(address, username=user, password=USERS[user]) == "5"
    log = stopped_log(deployed)
    assert "gw-a.probe." in log and "ingest.probe." in log, log  # it did connect
    assert "jagajalan_clientid: refused" not in log, log
