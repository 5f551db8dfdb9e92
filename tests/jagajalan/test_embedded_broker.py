"""The demo's embedded broker (amqtt): its subscription table survives filters coming and going
while a connecting client is served, and it still routes messages."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt
import pytest

from jagajalan.embedded_broker import EmbeddedBroker, SnapshotTable
from testkit.services import free_port


async def walk_while_others_change(table: dict) -> list[str]:
    """What amqtt 0.12.1 does on a connect (an await per filter) while sessions come and go."""
    for n in range(5):
        table[f"old/{n}"] = []
    seen: list[str] = []

    async def others() -> None:
        for n in range(5):
            table[f"new/{n}"] = []  # a session subscribes
            await asyncio.sleep(0)
            del table[f"old/{n}"]  # a session leaves
            await asyncio.sleep(0)

    async def walk() -> None:
        for topic in table:
            seen.append(topic)
            await asyncio.sleep(0)

    await asyncio.gather(walk(), others())
    return seen


def test_a_walk_over_the_table_sees_the_filters_it_started_with() -> None:
    seen = asyncio.run(walk_while_others_change(SnapshotTable()))
    assert seen == [f"old/{n}" for n in range(5)]


def test_a_plain_dict_fails_the_same_walk() -> None:
    """The failure the CI saw in the demo's log when it stopped, reproduced on amqtt's type."""
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        asyncio.run(walk_while_others_change({}))


def test_the_broker_uses_the_table_and_still_routes_messages() -> None:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    got = threading.Event()
    received: list[tuple[str, bytes]] = []
    clients: list[mqtt.Client] = []
    try:
        assert isinstance(broker._broker._subscriptions, SnapshotTable)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            received.append((msg.topic, msg.payload))
            got.set()

        subscribed = threading.Event()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        sub.on_message = on_message
        sub.on_subscribe = lambda *_a: subscribed.set()
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        clients.append(sub)
        sub.subscribe("jagajalan/v1/+/status", qos=1)
        assert subscribed.wait(10)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        clients.append(pub)
        pub.publish("jagajalan/v1/srl-pasar-01/status", b"online", qos=1).wait_for_publish(10)
        assert got.wait(10)
        assert received == [("jagajalan/v1/srl-pasar-01/status", b"online")]
        assert set(broker._broker._subscriptions) == {"jagajalan/v1/+/status"}
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.stop()
