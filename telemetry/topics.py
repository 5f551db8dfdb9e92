"""MQTT topic layout, version 1.

    jagajalan/v1/<gateway>/readings   batches of readings, QoS 1, not retained
    jagajalan/v1/<gateway>/status     gateway status, QoS 1, retained; the MQTT Last Will
                                      publishes an "offline" status on an unclean loss
    jagajalan/v1/<gateway>/cmd        reserved for commands to the gateway (not used yet)

A gateway's broker credentials allow it to publish only below ``jagajalan/v1/<its id>/``
(see ``docs/protocol.md`` for the Mosquitto ACL pattern).
"""

from __future__ import annotations

import re

ROOT = "jagajalan/v1"
ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
#: Gateway and sensor ids (use fullmatch).
ID_RE = re.compile(ID_PATTERN)

READINGS = "readings"
STATUS = "status"
COMMAND = "cmd"

#: Subscriptions used by ingest (plain and, for scale-out, shared).
ALL_READINGS = f"{ROOT}/+/{READINGS}"
ALL_STATUS = f"{ROOT}/+/{STATUS}"


def valid_id(value: str) -> bool:
    """True if *value* is a valid gateway or sensor id (lowercase, digits, hyphens)."""
    return ID_RE.fullmatch(value) is not None  # not match(): "$" also matches before "\n"


def _check(gateway: str) -> str:
    if not valid_id(gateway):
        raise ValueError(f"invalid gateway id {gateway!r}: must match {ID_PATTERN}")
    return gateway


def readings(gateway: str) -> str:
    return f"{ROOT}/{_check(gateway)}/{READINGS}"


def status(gateway: str) -> str:
    return f"{ROOT}/{_check(gateway)}/{STATUS}"


def command(gateway: str) -> str:
    return f"{ROOT}/{_check(gateway)}/{COMMAND}"


def shared(topic_filter: str, group: str = "ingest") -> str:
    """MQTT 5 shared subscription of *topic_filter* for the worker group *group*."""
    return f"$share/{group}/{topic_filter}"


def parse(topic: str) -> tuple[str, str]:
    """Split a v1 topic into (gateway, kind). Raises ValueError naming the problem."""
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != ROOT:
        raise ValueError(f"topic {topic!r} is not of the form {ROOT}/<gateway>/<kind>")
    gateway, kind = parts[2], parts[3]
    if not valid_id(gateway):
        raise ValueError(f"topic {topic!r}: invalid gateway id {gateway!r}")
    if kind not in (READINGS, STATUS, COMMAND):
        raise ValueError(f"topic {topic!r}: unknown kind {kind!r}")
    return gateway, kind
