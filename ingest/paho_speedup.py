"""A faster decode of MQTT 5 PUBLISH properties for paho-mqtt 2.2.0 (ingest's hot path).

paho builds a :class:`~paho.mqtt.properties.Properties` object for every MQTT 5 PUBLISH it
receives: the constructor rebuilds two lookup tables and ``unpack()`` first clears each of
the 27 property names with a ``str.replace`` and a ``hasattr``. Profiled on the ingest worker
(single-reading messages), that was about a third of paho's time per received message.

:class:`FastProperties` is a ``Properties`` that shares the (never modified) tables of one
prototype, and whose ``unpack()`` returns at once when the packet carries no properties (the
property length is a single 0 byte, as in every PUBLISH Mosquitto forwards from a gateway);
any other packet goes through paho's own code. :func:`install` swaps it into paho's packet
decoder, for paho-mqtt 2.2.0 only (the version it was checked against: tests assert the
decoded packets are equal). It changes how paho decodes, in this process, nothing else.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import ClassVar

from paho.mqtt import _packet
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

CHECKED_VERSION = "2.2.0"


class FastProperties(Properties):
    _prototypes: ClassVar[dict[int, Properties]] = {}

    def __init__(self, packetType: int) -> None:
        proto = FastProperties._prototypes.get(packetType)
        if proto is None:
            proto = FastProperties._prototypes[packetType] = Properties(packetType)
        # packetType, types, names, properties: read-only tables, shared
        self.__dict__.update(proto.__dict__)

    def unpack(self, buffer):
        if buffer[:1] == b"\x00":  # property length 0: nothing to clear, nothing to read
            return self, 1
        return super().unpack(buffer)


def install() -> bool:
    """Use :class:`FastProperties` in paho's packet decoding. Returns False (and changes
    nothing) for a paho-mqtt version other than the one this was checked against."""
    try:
        version = metadata.version("paho-mqtt")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if version != CHECKED_VERSION:
        log.info("event=paho_speedup_skipped paho_version=%s", version)
        return False
    _packet.Properties = FastProperties
    return True
