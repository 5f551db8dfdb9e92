"""One MQTT connection of the fleet generator and the gateways it publishes for
(:mod:`simulators.fleet.mqtt`), and the open-files limit a fleet of sockets needs."""

from __future__ import annotations

import asyncio
import contextlib
import resource

import paho.mqtt.client as mqtt

from simulators.fleet.generator import GatewayStats


class Connection:
    """One MQTT connection and the gateways it publishes for."""

    def __init__(self, index: int, gateways: list[GatewayStats], client: mqtt.Client) -> None:
        self.index = index
        self.gateways = gateways
        self.client = client
        self.inflight: dict[int, tuple[GatewayStats | None, int, int, int]] = {}
        self.connected = False
        self.reconnecting = False
        self.lost_while_reconnecting = False  # a disconnect the running reconnect must follow
        self.error: str | None = None
        self.closing = False
        self.first_answer: asyncio.Future[None] | None = None


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
