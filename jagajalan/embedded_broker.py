"""The embedded MQTT broker for `make demo`: amqtt, in-process, on its own event loop thread.

Used only when no real broker is configured. amqtt speaks MQTT 3.1.1, so clients connecting to
it use protocol 3.1.1 (our clients fall back to it automatically).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading

log = logging.getLogger(__name__)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int = 1883, host: str = "127.0.0.1") -> int:
    if port_free(preferred, host):
        return preferred
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SnapshotTable(dict):
    """amqtt's subscription table, iterated over a snapshot of its keys.

    amqtt 0.12.1 walks `Broker._subscriptions` with awaits inside the loop (a connecting
    client is sent the retained messages of every filter; a broadcast is delivered filter by
    filter) while other sessions add and delete filters. When clients connect while others
    leave (the demo switching scenario or stopping), the walk raises "dictionary changed size
    during iteration" and the connecting client's session dies with a logged traceback. Walking
    a snapshot is what the loops mean: a filter added meanwhile is served by its own subscribe.
    """

    def __iter__(self):  # type: ignore[override]
        return iter(list(dict.keys(self)))

    def keys(self):  # type: ignore[override]
        return list(dict.keys(self))

    def items(self):  # type: ignore[override]
        return list(dict.items(self))

    def values(self):  # type: ignore[override]
        return list(dict.values(self))


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("embedded MQTT broker did not start in time")
        if self._error is not None:
            raise RuntimeError(f"embedded MQTT broker failed: {self._error}") from self._error

    def _run(self) -> None:
        from amqtt.broker import Broker

        # Clients probe for MQTT 5 first (kernel.mqtt.negotiate_protocol); amqtt warns about
        # every such probe, which is expected here.
        logging.getLogger("amqtt.broker").setLevel(logging.ERROR)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        try:
            self._broker = Broker(config, loop=loop)
            self._broker._subscriptions = SnapshotTable(self._broker._subscriptions)
            loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        with contextlib.suppress(Exception):
            loop.run_until_complete(self._broker.shutdown())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
