"""A staged rollout through a real Mosquitto over a simulated fleet: signed commands arrive
retained on each gateway's cmd topic, the simulated gateways answer with their status as a
gateway after `gateway-update` would (the new version online, or the old one with
``update.result = rolled_back``, or nothing), and the rollout stops at its threshold, never
commands the next group and withdraws the commands of the gateways that did not update.

The fleet is one MQTT client answering for every gateway (the gateway side of the cmd topic
runs for real in tests/firmware_tools/gateway_update/test_real_gateway_command.py); the
signature is the HMAC test signer of test_plan.py (the minisign one: test_signing.py)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from firmware_tools.rollout.command import Command, CommandError, decode, encode
from firmware_tools.rollout.plan import Group, Rollout
from firmware_tools.rollout.runner import MqttRollout
from kernel.mqtt import new_client
from telemetry import topics
from testkit.gateway import Subscriber, wait_until
from testkit.services import Mosquitto

from .test_plan import check, sign

pytestmark = pytest.mark.services
NOW_MS = int(time.time() * 1000)


class Fleet:
    """Answers commands for every gateway of the test: fate ok, rolled_back or silent."""

    def __init__(
        self, port: int, prefix: str, fate: dict[str, str], old: str = "1.0.0", check=check
    ) -> None:
        self.prefix, self.fate, self.old, self.check = prefix, fate, old, check
        self.commanded: list[str] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.client = new_client(f"fleet-{port}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{topics.ROOT}/+/{topics.COMMAND}", qos=1)
        self.client.loop_start()

    def _on_message(self, client, _u, message) -> None:
        if not message.payload:
            return  # a withdrawn command
        gateway = message.topic.split("/")[2]
        if not gateway.startswith(self.prefix):
            return  # another test's retained commands on the session's broker
        try:
            command = decode(message.payload, gateway=gateway, now_ms=NOW_MS, check=self.check)
        except CommandError as exc:
            self.refused.append(f"{gateway}:{exc.reason}")
            return
        with self.lock:
            self.commanded.append(gateway)
        fate = self.fate.get(gateway, "ok")
        if fate == "silent":
            return
        version = command.version if fate == "ok" else self.old
        result = "committed" if fate == "ok" else "rolled_back"
        status = {
            "v": 1,
            "gateway": gateway,
            "state": "online",
            "version": version,
            "update": {"version": command.version, "result": result, "rollout": command.rollout},
        }
        client.publish(topics.status(gateway), json.dumps(status), qos=1, retain=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def command_for(version: str):
    def make(gateway: str) -> bytes:
        return encode(
            Command(
                gateway,
                version,
                3,
                f"https://u.example/{version}.jjfw",
                "b" * 64,
                "r1",
                NOW_MS,
                NOW_MS + 3_600_000,
            ),
            sign,
        )

    return make


def run(broker: Mosquitto, groups: list[Group], fate: dict[str, str], tag: str):
    fleet = Fleet(broker.port, tag, fate)
    client = new_client(f"rollout-{tag}")
    rollout = Rollout("2.0.0", groups, max_failures=0.25, deadline=3.0)
    runner = MqttRollout(rollout, client, command_for("2.0.0"))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        state = runner.run(until=time.time() + 60)
    finally:
        client.loop_stop()
        client.disconnect()
        fleet.close()
    return state, rollout, fleet


def groups_of(tag: str, sizes: list[int]) -> list[Group]:
    return [
        Group(f"g{i}", tuple(f"{tag}-{i}-{n}" for n in range(size))) for i, size in enumerate(sizes)
    ]


def test_a_good_release_goes_through_every_group(broker: Mosquitto) -> None:
    groups = groups_of("good", [2, 4, 6])
    state, rollout, fleet = run(broker, groups, {}, "good")
    assert state == "done"
    assert rollout.summary()["updated"] == 12
    assert sorted(fleet.commanded) == sorted(g for grp in groups for g in grp.gateways)
    assert fleet.refused == []


def test_a_bad_release_halts_at_the_threshold_and_withdraws_its_commands(
    broker: Mosquitto,
) -> None:
    groups = groups_of("bad", [2, 4, 6])
    fate = {"bad-1-0": "rolled_back", "bad-1-2": "silent"}  # 2 of 4 > 25 %
    state, rollout, fleet = run(broker, groups, fate, "bad")
    assert state == "halted" and "group g1" in rollout.reason
    assert not set(fleet.commanded) & set(groups[2].gateways)  # the last group: nothing
    assert set(groups[0].gateways) <= set(fleet.commanded)
    # a gateway that comes back later finds no command for the failed release
    for gateway in ("bad-1-0", "bad-1-2"):
        with Subscriber(broker.port, [topics.command(gateway)]) as sub:
            assert not sub.wait_for(lambda s=sub: any(m.payload for m in s.messages), 1.0)
    # an updated gateway keeps its (retained) command
    with Subscriber(broker.port, [topics.command("bad-0-0")]) as sub:
        assert sub.wait_for(lambda: any(m.retain and m.payload for m in sub.messages))


def test_a_command_on_another_gateways_topic_is_refused(broker: Mosquitto) -> None:
    fleet = Fleet(broker.port, "copy-", {})
    client = new_client("rollout-copy")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        copied = command_for("2.0.0")("copy-a")
        client.publish(topics.command("copy-b"), copied, qos=1, retain=True).wait_for_publish(5)
        assert wait_until(lambda: "copy-b:gateway" in fleet.refused)
        assert fleet.commanded == []
        client.publish(topics.command("copy-b"), b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
        fleet.close()
