"""Reserved gateway ids against a real Mosquitto running the shipped ACL
(deploy/mosquitto/acl.example), a real InfluxDB and the real ``ingest run`` command.

The shipped ACL lets the ingest user write ``jagajalan/v1/deadletter/#`` (its dead letters)
and, through ``pattern write jagajalan/v1/%u/readings``, ``jagajalan/v1/ingest/readings``: a
leaked ingest password could publish readings there. Ingest refuses such topics
(``reserved_id``), dead-letters them without a gateway, stores nothing, and the dead letter
(on ``jagajalan/v1/deadletter/reserved_id``) does not come back to it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from store.influx import InfluxStore
from testkit import REPO
from testkit.influx_setup import setup_database
from testkit.ingest import (
    RECENT,
    batch_bytes,
    ingest_args,
    metric,
    scrape,
    start_ingest,
    stop_process,
    wait_for,
    wait_subscribed,
)
from testkit.ingest_acceptance import DeadLetters
from testkit.services import Influx, free_port, mosquitto

pytestmark = pytest.mark.services

USERS = {"ingest": "ingest-pw-7", "deadletter-archive": "archive-pw-7", "gw-1": "gw-1-pw-7"}


def _client(port: int, user: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, USERS[user])
    client.acks = {}
    client.on_publish = lambda c, u, mid, rc, p: client.acks.__setitem__(mid, rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _send(client: mqtt.Client, topic: str, payload: bytes) -> None:
    """Publish at QoS 1 and check that the broker took it (MQTT 5 names an ACL refusal)."""
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)
    assert not client.acks[info.mid].is_failure, (topic, client.acks[info.mid])


def _as(gateway: str, seq: int) -> bytes:
    """A valid batch of gw-1's, but naming *gateway* (which the model would refuse to build)."""
    obj = json.loads(batch_bytes("gw-1", seq, RECENT))
    obj["gateway"] = gateway
    return json.dumps(obj).encode()


def test_reserved_ids_are_dead_lettered_once_and_never_stored(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    acl = (REPO / "deploy" / "mosquitto" / "acl.example").read_text()
    port, log = free_port(), tmp_path / "ingest.log"
    (tmp_path / "pw").write_text(USERS["ingest"])
    setup_database(influx.url, influx_db)
    with mosquitto(tmp_path / "mq", passwords=USERS, acl=acl) as broker:
        args = ingest_args(broker, influx.url, influx_db, port, "--mqtt-username", "ingest")
        proc = start_ingest(*args, "--mqtt-password-file", str(tmp_path / "pw"), log=log)
        letters = DeadLetters(broker.port, ("deadletter-archive", USERS["deadletter-archive"]))
        leaked, gateway = _client(broker.port, "ingest"), _client(broker.port, "gw-1")
        store = InfluxStore(influx.url, influx_db)
        refused = {
            "jagajalan/v1/deadletter/readings": _as("deadletter", 1),
            "jagajalan/v1/ingest/readings": _as("ingest", 2),
            "jagajalan/v1/deadletter/status": b'{"v":1,"gateway":"deadletter","state":"online"}',
        }
        try:
            wait_subscribed(proc, port, log)
            for topic, payload in refused.items():  # the shipped ACL lets the ingest user
                _send(leaked, topic, payload)
            _send(gateway, "jagajalan/v1/gw-1/readings", _as("gw-2", 3))  # a mismatch
            # The archive's jagajalan/v1/deadletter/# also matches the two forged messages.
            wait_for(lambda: len(letters.received) == 2 + 4, 20, "four dead letters")
            # Had a dead letter matched ingest's subscriptions, the broker would have queued
            # it for ingest before this batch, which is published after every dead letter
            # arrived: once this batch is stored, a looping dead letter would be counted.
            _send(gateway, "jagajalan/v1/gw-1/readings", batch_bytes("gw-1", 4, RECENT))
            wait_for(lambda: store.count("gateway_batches", "gw-1") == 1, 20, "gw-1's batch")
            m = wait_for(
                lambda: (
                    (s := scrape(port))
                    and metric(s, "jagajalan_ingest_unacked_messages") == 0
                    and s
                ),
                10,
                "every message acknowledged",
            )
            received = "jagajalan_ingest_messages_received_total"
            assert metric(m, received, kind="readings") == 4  # 2 refused, mismatch, gw-1's
            assert (
                metric(m, received, kind="status") == 1 and metric(m, received, kind="other") == 0
            )
            assert metric(m, "jagajalan_ingest_malformed_total", reason="reserved_id") == 3
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="reserved_id") == 3
            assert len(letters.received) == 2 + 4  # no dead letter about a dead letter
        finally:
            for client in (leaked, gateway):
                client.disconnect()
                client.loop_stop()
            letters.close()
            code = stop_process(proc)
        forged = [(t, body) for t, body in letters.received if t in refused]
        assert sorted(t for t, _ in forged) == sorted(t for t in refused if "deadletter/" in t)
        by_topic = {body["topic"]: (t, body) for t, body in letters.received if t not in refused}
        for topic, payload in refused.items():
            letter_topic, body = by_topic[topic]
            assert letter_topic == "jagajalan/v1/deadletter/reserved_id"
            assert (body["reason"], body["gateway"]) == ("reserved_id", None)
            assert "is reserved" in body["error"]
            assert base64.b64decode(body["payload_b64"]) == payload
        letter_topic, mismatch = by_topic["jagajalan/v1/gw-1/readings"]
        assert letter_topic == "jagajalan/v1/deadletter/gateway_mismatch"
        assert mismatch["gateway"] == "gw-1"  # the topic's gateway, not the payload's "gw-2"
        assert [g.gateway for g in store.gateways()] == ["gw-1"]
        for measurement in ("gateway_batches", "gateway_status", "air_quality", "traffic"):
            assert store.count(measurement, "deadletter") == 0
            assert store.count(measurement, "ingest") == 0
        store.close()
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert text.count("event=refused") == 4
