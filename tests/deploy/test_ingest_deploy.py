"""The shipped deploy/mosquitto/mosquitto.conf, acl.example and client id plugin, run by a real
Mosquitto 2.0: only the listener address and the file paths are changed for the test
(testkit/shipped_broker.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from testkit.ingest import wait_for
from testkit.services import Mosquitto
from testkit.shipped_broker import build_plugin, shipped_broker

pytestmark = pytest.mark.services

USERS = {"ingest": "i-pw", "gw-1": "g1-pw", "deadletter-archive": "d-pw"}


@pytest.fixture
def deployed(tmp_path: Path):
    plugin = build_plugin(tmp_path)
    with shipped_broker(tmp_path / "broker", USERS, plugin) as broker:
        yield broker


def _client(broker: Mosquitto, user: str, client_id: str = "", persistent: bool = False):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS[user])
    c.got, c.acks = [], {}
    c.on_message = lambda cl, u, m: c.got.append(m.payload)
    c.on_publish = lambda cl, u, mid, rc, p: c.acks.__setitem__(mid, rc)
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribed = subscribed
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600 if persistent else 0
    c.connect("127.0.0.1", broker.port, clean_start=not persistent, properties=props)
    c.loop_start()
    return c


def _close(*clients) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def test_shipped_broker_config_keeps_every_message_for_an_absent_worker(deployed) -> None:
    worker = _client(deployed, "ingest", "ingest.1", persistent=True)
    worker.subscribe("$share/ingest/jagajalan/v1/+/readings", qos=1)
    assert worker.subscribed.wait(10)
    _close(worker)  # away, e.g. while InfluxDB is down; its session keeps the subscription
    gateway = _client(deployed, "gw-1", "gw-1")
    n = 2500  # more than Mosquitto's default queue of 1000, which would drop the rest
    infos = [gateway.publish("jagajalan/v1/gw-1/readings", b"%d" % i, qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    denied = gateway.publish("jagajalan/v1/gw-2/readings", b"x", qos=1)  # not its own topic
    denied.wait_for_publish(10)
    assert gateway.acks[denied.mid].getName() == "Not authorized"
    worker = _client(deployed, "ingest", "ingest.1", persistent=True)
    wait_for(lambda: len(worker.got) == n, 30, f"all {n} queued messages")
    assert sorted(int(p) for p in worker.got) == list(range(n))
    _close(worker, gateway)


def test_shipped_acl_lets_ingest_dead_letter_and_the_archive_read_them(deployed) -> None:
    archive = _client(deployed, "deadletter-archive", "deadletter-archive", persistent=True)
    archive.subscribe("jagajalan/v1/deadletter/#", qos=1)
    assert archive.subscribed.wait(10)
    worker = _client(deployed, "ingest", "ingest.1")
    info = worker.publish("jagajalan/v1/deadletter/not_json", b'{"v":1}', qos=1)
    info.wait_for_publish(10)
    assert not worker.acks[info.mid].is_failure
    wait_for(lambda: archive.got == [b'{"v":1}'], 10, "the dead letter in the archive")
    gateway = _client(deployed, "gw-1", "gw-1")
    forged = gateway.publish("jagajalan/v1/deadletter/not_json", b"forged", qos=1)
    forged.wait_for_publish(10)
    assert gateway.acks[forged.mid].getName() == "Not authorized"
    _close(archive, worker, gateway)
