"""MQTT topic layout, version 1, and the rule for gateway ids.

    jagajalan/v1/<gateway>/readings   batches of readings, QoS 1, not retained
    jagajalan/v1/<gateway>/status     gateway status, QoS 1, retained; the MQTT Last Will
                                      publishes an "offline" status on an unclean loss
    jagajalan/v1/<gateway>/cmd        signed desired-version commands to the gateway, QoS 1,
                                      retained; only the rollout user writes, the gateway reads

A gateway's broker credentials allow it to publish only below ``jagajalan/v1/<its id>/``
(see ``docs/protocol.md`` for the Mosquitto ACL pattern). Every function here that builds or
parses a gateway topic refuses an id that is not a gateway id, and a reserved id
(:func:`reserved_id`) with :class:`ReservedId`, whose ``reason`` is ``reserved_id``.
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

#: Ids that are never gateway ids. A gateway id is a topic level, the gateway's MQTT username
#: and its MQTT client id, so the topic level of ingest's dead letters
#: (``jagajalan/v1/deadletter/<reason>``), the service users of deploy/mosquitto/acl.example
#: (``ingest``, ``api``, ``deadletter-archive``) and those of the services to come are kept:
#: with the shipped ACL's ``pattern write jagajalan/v1/%u/readings`` a service user could
#: otherwise publish readings as a gateway of its own name.
RESERVED_IDS = frozenset(
    {
        "admin",
        "alerts",
        "analytics",
        "api",
        "deadletter",
        "deadletter-archive",
        "grafana",
        "ingest",
        "jagajalan",
        "rollout",
    }
)
#: Beginnings of the MQTT client ids the services use (``ingest-1``, the default
#: ``jagajalan-ingest-<host>``, the API's ``jagajalan-health-<hex>``): Mosquitto hands a
#: client id to the newest connection whatever its user, so a gateway with such an id would
#: take over a service's session.
RESERVED_ID_PREFIXES = ("deadletter-", "ingest-", "jagajalan-")
#: The reason a reserved id is refused with (a topic, a payload's ``gateway``, a config).
RESERVED_ID = "reserved_id"


class ReservedId(ValueError):
    """A gateway id, or the gateway level of a topic, that the contract keeps for itself."""

    reason = RESERVED_ID


def valid_id(value: str) -> bool:
    """True if *value* is a valid gateway or sensor id (lowercase, digits, hyphens)."""
    return ID_RE.fullmatch(value) is not None  # not match(): "$" also matches before "\n"


def reserved_id(value: str) -> bool:
    """True if *value* may not be a gateway id (:data:`RESERVED_IDS`,
    :data:`RESERVED_ID_PREFIXES`). Sensor ids are not affected."""
    return value in RESERVED_IDS or value.startswith(RESERVED_ID_PREFIXES)


def reserved_reason(value: str) -> str:
    """Why *value* is reserved, for error messages."""
    *names, last = RESERVED_ID_PREFIXES
    return (
        f"{value!r} is reserved for JagaJalan's own topics and MQTT users and client ids"
        f" ({', '.join(sorted(RESERVED_IDS))}, and ids starting with"
        f" {', '.join(names)} or {last})"
    )


def valid_gateway_id(value: str) -> bool:
    """True if *value* is a valid id and not a reserved one."""
    return valid_id(value) and not reserved_id(value)


def check_gateway_id(gateway: str) -> str:
    """*gateway*, if it may be a gateway id; else ValueError (:class:`ReservedId` for a
    reserved one) naming the problem."""
    if not valid_id(gateway):
        raise ValueError(f"invalid gateway id {gateway!r}: must match {ID_PATTERN}")
    if reserved_id(gateway):
        raise ReservedId(f"gateway id {reserved_reason(gateway)}")
    return gateway


def readings(gateway: str) -> str:
    return f"{ROOT}/{check_gateway_id(gateway)}/{READINGS}"


def status(gateway: str) -> str:
    return f"{ROOT}/{check_gateway_id(gateway)}/{STATUS}"


def command(gateway: str) -> str:
    return f"{ROOT}/{check_gateway_id(gateway)}/{COMMAND}"


def shared(topic_filter: str, group: str = "ingest") -> str:
    """MQTT 5 shared subscription of *topic_filter* for the worker group *group*."""
    return f"$share/{group}/{topic_filter}"


def parse(topic: str) -> tuple[str, str]:
    """Split a v1 gateway topic into (gateway, kind). Raises ValueError naming the problem,
    :class:`ReservedId` when the gateway level is a reserved id (a dead-letter topic, or a
    service user's own subtree)."""
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != ROOT:
        raise ValueError(f"topic {topic!r} is not of the form {ROOT}/<gateway>/<kind>")
    gateway, kind = parts[2], parts[3]
    if not valid_id(gateway):
        raise ValueError(f"topic {topic!r}: invalid gateway id {gateway!r}")
    if reserved_id(gateway):
        raise ReservedId(f"topic {topic!r}: {reserved_reason(gateway)}")
    if kind not in (READINGS, STATUS, COMMAND):
        raise ValueError(f"topic {topic!r}: unknown kind {kind!r}")
    return gateway, kind
