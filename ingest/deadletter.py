"""Dead letters: what ingest could not write, published so that nothing vanishes silently.

Pure: builds topics and payloads; publishing is the service's job. Every refused message
(undecodable payload, wrong topic, gateway mismatch), every point InfluxDB refused (field
type conflict, beyond the retention policy, unparsable line, ...) and every point it kept
refusing for another reason (``store_refused``: too large, an unexpected answer, after a
bounded number of attempts) becomes one dead letter on

    jagajalan/v1/deadletter/<reason>        QoS 1, not retained

with a JSON payload (see :func:`payload`). The original message is acknowledged only after
its dead letter was accepted by the broker.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from telemetry.topics import ROOT

TOPIC_ROOT = f"{ROOT}/deadletter"
VERSION = 1
#: A dead letter stays well below the broker's packet limit (deploy: 4 MiB): at most this many
#: bytes of the original payload, and of refused points, are included; the totals are given.
MAX_PAYLOAD_BYTES = 1 << 20
MAX_POINTS_CHARS = 2 << 20

#: Reasons for points InfluxDB refused, from its error text (first match wins).
STORE_REASONS = (
    ("field type conflict", "field_type_conflict"),
    ("beyond retention policy", "beyond_retention"),
    ("unable to parse", "unparsable"),
    ("max-values-per-tag", "limit_exceeded"),
    ("max series per database", "limit_exceeded"),
)
STORE_REJECTED = "store_rejected"  # any other refusal of points by the store
#: Points the store kept refusing for a reason that is neither transient nor about the points
#: as such (HTTP 413, an unexpected answer), given up after ingest's bounded attempts.
STORE_REFUSED = "store_refused"


def store_reason(error: str) -> str:
    """The dead-letter reason for a store's error text."""
    lowered = error.lower()
    for needle, reason in STORE_REASONS:
        if needle in lowered:
            return reason
    return STORE_REJECTED


def topic(reason: str) -> str:
    return f"{TOPIC_ROOT}/{reason}"


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    topic: str  # the original message's topic
    gateway: str | None
    error: str  # the decoder's message or InfluxDB's error text
    time_ms: int  # when ingest gave up on it (UTC ms)
    points: Sequence[str] = ()  # refused points, in line protocol
    payload: bytes | None = None  # the original payload, for a message that was refused whole
    worker: str = ""  # the MQTT client id of the ingest worker
    attempts: int = 0  # store_refused: how many write attempts were refused before giving up

    @property
    def dead_letter_topic(self) -> str:
        return topic(self.reason)

    def encode(self) -> bytes:
        return payload(self)


def payload(letter: DeadLetter) -> bytes:
    """The dead letter as JSON (UTF-8)::

        {"v": 1, "reason": "field_type_conflict", "topic": "jagajalan/v1/gw-a/readings",
         "gateway": "gw-a", "error": "partial write: field type conflict: ...",
         "time": 1764489600000, "worker": "ingest-1",
         "points": ["air_quality,gateway=gw-a,sensor=env1 humidity=80.0 1764489600000"]}

    ``points`` is present for points the store refused, ``payload_b64`` (the original payload,
    base64) for a message refused whole; ``attempts`` for ``store_refused`` points (the write
    attempts refused before ingest gave up on them). Past 1 MiB of payload or 2 MiB of points
    the rest is left out, and ``truncated`` is true with ``payload_bytes`` / ``points_total``
    saying how much there was.
    """
    obj: dict = {
        "v": VERSION,
        "reason": letter.reason,
        "topic": letter.topic,
        "gateway": letter.gateway,
        "error": letter.error,
        "time": letter.time_ms,
        "worker": letter.worker,
    }
    if letter.attempts:
        obj["attempts"] = letter.attempts
    if letter.points:
        kept, size = [], 0
        for line in letter.points:
            size += len(line) + 1
            if size > MAX_POINTS_CHARS and kept:
                obj["truncated"] = True
                break
            kept.append(line)
        obj["points"] = kept
        obj["points_total"] = len(letter.points)
    if letter.payload is not None:
        shown = letter.payload[:MAX_PAYLOAD_BYTES]
        obj["payload_b64"] = base64.b64encode(shown).decode("ascii")
        obj["payload_bytes"] = len(letter.payload)
        if len(shown) < len(letter.payload):
            obj["truncated"] = True
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
