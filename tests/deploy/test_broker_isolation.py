"""Per-gateway isolation on the shipped broker (deploy/mosquitto/mosquitto.conf, acl.example
and the client id plugin, run by a real Mosquitto 2.0: testkit/shipped_broker.py): a gateway
reads nothing of another gateway (readings, status, commands), not even through a wildcard,
and cannot write into another gateway's subtree (readings, status, ``cmd``).

The ``cmd`` topic's only writer is the rollout user: its retained command to gw-b reaches gw-b
(subscribed to its own ``cmd`` topic, as the gateway does) and not gw-a, subscribed to every
``cmd`` topic and to everything.
"""

from __future__ import annotations

from telemetry import topics
from testkit.ingest import wait_for
from tests.deploy.test_broker_clientid import Peer, deployed  # noqa: F401  (fixture)

FORGED = b"forged-by-gw-a"


def _refused(broker, topic: str, n: int) -> str:
    """gw-a publishes *topic* at QoS 1 on a connection of its own (Mosquitto closes the
    connection after a refused publish); the name of the PUBACK's reason."""
    peer = Peer(broker, "gw-a", f"gw-a.forge{n}")
    info = peer.client.publish(topic, FORGED, qos=1)
    info.wait_for_publish(10)
    reason = peer.acks[info.mid].getName()
    peer.close()
    return reason


def test_a_gateway_reads_and_writes_nothing_of_another(deployed) -> None:  # noqa: F811
    a = Peer(deployed, "gw-a", "gw-a")
    for pattern in ("jagajalan/v1/gw-b/#", "jagajalan/v1/+/cmd", "jagajalan/v1/#"):
        a.subscribe(pattern)
    b = Peer(deployed, "gw-b", "gw-b")
    b.subscribe(topics.command("gw-b"))
    ingest = Peer(deployed, "ingest", "ingest.1")
    ingest.subscribe(topics.ALL_READINGS)
    ingest.subscribe("jagajalan/v1/+/status")

    b.publish(topics.readings("gw-b"), b"reading-of-b")
    b.publish(topics.status("gw-b"), b"online", retain=True)
    for n, topic in enumerate(
        (
            topics.readings("gw-b"),
            topics.status("gw-b"),
            topics.command("gw-b"),
            topics.command("gw-a"),  # not even its own: gateways only read cmd
        )
    ):
        assert _refused(deployed, topic, n) == "Not authorized", topic
    b.publish(topics.readings("gw-b"), b"second-reading-of-b")  # after every forgery
    wait_for(lambda: len(ingest.messages) >= 3, 10, "ingest receiving B's messages")

    assert ingest.payloads() == [b"reading-of-b", b"online", b"second-reading-of-b"]
    assert b.messages == []  # no forged command reached B
    rollout = Peer(deployed, "rollout", "rollout.1")
    rollout.publish(topics.command("gw-b"), b"command-for-b", retain=True)
    wait_for(lambda: b.messages, 10, "gw-b receiving its command")
    assert b.messages == [(topics.command("gw-b"), b"command-for-b")]
    assert a.messages == []  # nothing of B, through any of its subscriptions
    for peer in (a, b, ingest, rollout):
        peer.close()
