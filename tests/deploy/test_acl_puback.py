"""What a gateway learns when the broker's ACL refuses its publish (docs/protocol.md,
section 1), with a real Mosquitto 2.0 running the shipped deploy/mosquitto/acl.example:
under MQTT 3.1.1 the PUBACK says success and the message is dropped; under MQTT 5 the
PUBACK says "Not authorized". Either way Mosquitto then closes the connection."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from testkit import REPO
from testkit.ingest import wait_for
from testkit.services import mosquitto

pytestmark = pytest.mark.services

USERS = {"ingest": "ingest-pw-3", "gw-1": "gw-1-pw-3"}


def _client(port: int, user: str, protocol: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol)
    client.username_pw_set(user, USERS[user])
    client.acks, client.got, client.drops = {}, [], []
    client.on_publish = lambda c, u, mid, rc, p: client.acks.__setitem__(mid, rc)
    client.on_message = lambda c, u, m: client.got.append((m.topic, m.payload))
    client.on_disconnect = lambda c, u, flags, rc, p: client.drops.append(rc)
    client.connects = []
    client.on_connect = lambda c, u, flags, rc, p: client.connects.append(rc)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.subscribed = subscribed
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_an_acl_refusal_is_a_success_puback_under_mqtt_311(tmp_path: Path) -> None:
    acl = (REPO / "deploy" / "mosquitto" / "acl.example").read_text()
    with mosquitto(tmp_path / "mq", passwords=USERS, acl=acl) as broker:
        reader = _client(broker.port, "ingest", mqtt.MQTTv5)
        reader.subscribe("jagajalan/v1/+/readings", qos=1)
        assert reader.subscribed.wait(10)
        old = _client(broker.port, "gw-1", mqtt.MQTTv311)
        new = _client(broker.port, "gw-1", mqtt.MQTTv5)
        try:
            wait_for(lambda: old.connects and new.connects, 10, "both gateway clients")
            denied = old.publish("jagajalan/v1/gw-2/readings", b"not gw-1's", qos=1)
            denied.wait_for_publish(10)
            assert denied.is_published()
            assert not old.acks[denied.mid].is_failure  # a success PUBACK ...
            wait_for(lambda: old.drops, 10, "the broker to close the 3.1.1 connection")
            wait_for(lambda: len(old.connects) == 2, 10, "paho to reconnect")
            allowed = old.publish("jagajalan/v1/gw-1/readings", b"gw-1's own", qos=1)
            allowed.wait_for_publish(10)
            # ... and the message is gone: the next one arrives alone.
            wait_for(lambda: reader.got, 10, "gw-1's own message")
            assert reader.got == [("jagajalan/v1/gw-1/readings", b"gw-1's own")]
            refused = new.publish("jagajalan/v1/gw-2/readings", b"not gw-1's", qos=1)
            refused.wait_for_publish(10)
            assert new.acks[refused.mid].getName() == "Not authorized"  # MQTT 5 says so
            wait_for(lambda: new.drops, 10, "the broker to close the MQTT 5 connection")
            assert reader.got == [("jagajalan/v1/gw-1/readings", b"gw-1's own")]
        finally:
            for client in (reader, old, new):
                client.disconnect()
                client.loop_stop()
