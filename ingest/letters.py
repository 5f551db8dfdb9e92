"""Publishing ingest's dead letters (:mod:`ingest.deadletter` builds them) on the worker's
MQTT connection: at QoS 1, waiting for the broker's PUBACK of each, so that the original
messages are acknowledged only once their dead letters are with the broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt

from ingest.deadletter import DeadLetter
from ingest.retry import DeadLetterFailed


class LetterPublisher:
    def __init__(self, client: Callable[[], mqtt.Client | None], timeout: float) -> None:
        self.client = client  # the connected client, or None
        self.timeout = timeout
        self._published: dict[int, object] = {}  # dead letter mid -> PUBACK reason code

    def on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        """paho's ``on_publish``: the broker's answer to one of our publishes."""
        self._published[mid] = reason_code

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK; raise DeadLetterFailed if any
        was not accepted (the writer retries and keeps the originals unacknowledged)."""
        client = self.client()
        if client is None:
            raise DeadLetterFailed("not connected to the broker")
        infos = [client.publish(d.dead_letter_topic, d.encode(), qos=1) for d in letters]
        timeout = self.timeout
        deadline = time.monotonic() + timeout
        for info in infos:
            try:
                info.wait_for_publish(max(0.01, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                raise DeadLetterFailed(f"dead letter not published: {exc}") from None
            if not info.is_published():
                raise DeadLetterFailed(f"the broker did not confirm a dead letter in {timeout}s")
            code = self._published.pop(info.mid, None)
            if code is not None and getattr(code, "is_failure", False):
                raise DeadLetterFailed(f"the broker refused a dead letter: {code}")
