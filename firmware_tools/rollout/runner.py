"""A rollout over MQTT: the plan (:mod:`.plan`) decides, this sends and listens.

It publishes each commanded gateway's signed desired-version command retained on its ``cmd``
topic (QoS 1, waiting for the broker's PUBACK before counting it sent), reads every gateway's
retained status, hands what it sees to the plan, and when the plan halts withdraws the commands
of the gateways that had not updated yet (an empty retained message), so a gateway that comes
back online later does not install a release that failed elsewhere. Statuses of gateways not
yet commanded are ignored (their retained ``online`` with the old version among them).
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from firmware_tools.rollout.plan import Rollout, Seen, State
from telemetry import topics

log = logging.getLogger(__name__)


def seen_of(payload: bytes) -> tuple[str, Seen] | None:
    """The gateway and what its status says, or None for what is not a status."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("gateway"), str):
        return None
    update = data.get("update") if isinstance(data.get("update"), dict) else {}
    return data["gateway"], Seen(
        version=data.get("version"),
        online=data.get("state") == "online",
        update_result=update.get("result"),
        update_version=update.get("version"),
        update_rollout=update.get("rollout") or None,
    )


class MqttRollout:
    def __init__(
        self,
        rollout: Rollout,
        client: mqtt.Client,
        command_for: Callable[[str], bytes],
        *,
        clock: Callable[[], float] = time.time,
        publish_timeout: float = 10.0,
        watch: Callable[[MqttRollout], None] | None = None,
    ) -> None:
        self.rollout = rollout
        self.client = client
        self.command_for = command_for
        self.clock = clock
        self.publish_timeout = publish_timeout
        self.watch = watch  # called after each step (progress output)
        self.last_seen: dict[str, Seen] = {}  # gateway -> its newest status, commanded or not
        self._seen: queue.Queue[tuple[str, Seen]] = queue.Queue()
        client.on_message = self._on_message
        client.on_connect = self._on_connect

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(topics.ALL_STATUS, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        got = seen_of(message.payload)
        if got is not None:
            self._seen.put(got)

    def _publish(self, gateway: str, payload: bytes) -> None:
        info = self.client.publish(topics.command(gateway), payload, qos=1, retain=True)
        info.wait_for_publish(self.publish_timeout)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for the command to {gateway}")

    def run(self, *, until: float, poll: float = 0.2) -> State:
        """Run until the rollout is done or halted, or the clock passes *until*."""
        while self.clock() < until:
            state = self.rollout.tick(self.clock())
            if self.watch is not None:
                self.watch(self)
            if state != "running":
                break
            for gateway in self.rollout.to_send():
                self._publish(gateway, self.command_for(gateway))
                self.rollout.mark_sent(gateway, self.clock())
                log.info("rollout %s: command sent to %s", self.rollout.version, gateway)
            try:
                gateway, seen = self._seen.get(timeout=poll)
            except queue.Empty:
                continue
            self.last_seen[gateway] = seen
            self.rollout.observe(gateway, seen, self.clock())
        if self.rollout.state == "halted":
            self.withdraw()
        return self.rollout.state

    def withdraw(self) -> list[str]:
        """Empty the retained command of every commanded gateway that has not updated."""
        pending = [g for g, o in self.rollout.outcome.items() if o != "updated"]
        for gateway in pending:
            self._publish(gateway, b"")
        log.warning("rollout %s halted (%s)", self.rollout.version, self.rollout.reason)
        return pending
