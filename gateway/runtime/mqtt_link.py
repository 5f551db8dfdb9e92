"""How the gateway reaches its broker (the arguments of :func:`kernel.mqtt.new_client` from
its ``[mqtt]`` config) and how it logs what goes wrong there without flooding the log: each
connection problem once per series of identical failed attempts, each kind of refusal by the
broker once per :data:`REFUSAL_LOG_INTERVAL`."""

from __future__ import annotations

import logging
import time
from typing import Any

from gateway.config import GatewayConfig
from kernel.mqtt import Tls, parse_url

log = logging.getLogger("gateway.runtime.publisher")  # the lines operators already look for

#: Seconds between two error lines about the same kind of refusal by the broker.
REFUSAL_LOG_INTERVAL = 600.0


def link_args(config: GatewayConfig) -> dict[str, Any]:
    cfg = config.mqtt
    return {
        "address": parse_url(cfg.url),
        "username": cfg.username,
        "password": cfg.read_password() if cfg.username is not None else None,
        "tls": Tls(
            ca_file=str(cfg.ca_file) if cfg.ca_file else None,
            certfile=str(cfg.certfile) if cfg.certfile else None,
            keyfile=str(cfg.keyfile) if cfg.keyfile else None,
        ),
    }


def identity(config: GatewayConfig) -> str:
    """Who the broker sees, for messages about its refusals."""
    cfg = config.mqtt
    if cfg.username:
        return f"user {cfg.username}"
    return "the client certificate's identity" if cfg.certfile else "anonymous clients"


class ProblemLog:
    def __init__(self) -> None:
        self._last_problem: str | None = None  # for logging each connect problem once
        self._refusals: dict[str, float] = {}  # refusal kind -> when last logged as an error

    def clear(self) -> None:
        """Connected: the next problem is news again."""
        self._last_problem = None

    def refused(self, kind: str, message: str, *args: object, level: int = logging.ERROR) -> None:
        """Log a refusal by the broker at ``level`` once per kind per 10 minutes (a broker that
        drops the connection after each refusal must not flood the log), else at debug."""
        now = time.monotonic()
        if now - self._refusals.get(kind, float("-inf")) >= REFUSAL_LOG_INTERVAL:
            self._refusals[kind] = now
            log.log(level, message, *args)
        else:
            log.debug(message, *args)

    def problem(self, problem: str, message: str, *args: object) -> None:
        """Log a connection problem once per series of identical failed attempts."""
        if problem != self._last_problem:
            log.error(message, *args)
            self._last_problem = problem
        else:
            log.debug(message, *args)
