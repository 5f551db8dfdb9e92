"""InfluxDB's ``/write`` on a lean HTTP path: one :class:`httpcore.ConnectionPool`, kept alive.

httpx (the rest of :mod:`store.influx`) is built on httpcore; for the one request ingest sends
thousands of times, its client layers (URL and parameter merging, the auth flow, cookies,
redirect handling, the Response model) cost more than the request itself. Measured on a
1.1 MB write of 10,000 lines on loopback: about 1.9 ms of the writer's CPU through
``httpx.Client.post``, about 1.0 ms through httpcore (http.client: about 0.8 ms, the kernel's
share of sending). That is about 0.1 µs per reading of ingest's ~0.75 (docs/scaling.md).

The request is fixed at construction: the URL with its ``db`` and ``precision=ms`` parameters
and the headers (credentials in ``Authorization``, never in the URL). The TLS context is the
caller's (the same one its httpx client verifies with). A connection, timeout or protocol
failure raises :class:`~store.base.StoreUnavailable` naming the server; the answer's status is
the caller's to judge (:meth:`store.influx.InfluxStore._answer`). Thread-safe: the ingest
writer's parallel writes each take a connection from the pool.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from urllib.parse import urlencode

import httpcore

from store.base import StoreUnavailable

#: Most points sent in one ``/write`` request (InfluxDB's own advice: 5,000 to 10,000).
WRITE_CHUNK = 5_000
#: Most characters in one ``/write`` of :meth:`~store.influx.InfluxStore.write_lines`, whatever
#: the lines (influxd's max-body-size: 25 MB; a request costs ~1 ms of CPU: docs/scaling.md).
WRITE_LINES_CHARS = 4_000_000

#: The connection errors of httpcore that are not timeouts (as httpx's TransportError).
_UNREACHABLE = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
)


def unavailable(url: str, exc: Exception, timed_out: bool) -> StoreUnavailable:
    """The error of a request that got no answer (httpx's or httpcore's exception *exc*)."""
    if timed_out:
        return StoreUnavailable(f"InfluxDB at {url} did not answer in time ({exc})")
    return StoreUnavailable(f"InfluxDB at {url} is unreachable: {exc}")


class WritePath:
    def __init__(
        self,
        url: str,
        database: str,
        headers: dict[str, str],
        ssl_context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        self.url = url
        query = urlencode({"db": database, "precision": "ms"})
        self._target = f"{url}/write?{query}"
        self._headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        # httpx's own pool limits and keep-alive (100 connections, 20 kept, 5 s idle)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )
        self._timeout = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)}

    def post(self, body: bytes) -> httpcore.Response:
        """Send *body* (line protocol) and read the whole answer."""
        try:
            return self._pool.request(
                "POST", self._target, headers=self._headers, content=body, extensions=self._timeout
            )
        except httpcore.TimeoutException as exc:
            raise unavailable(self.url, exc, timed_out=True) from None
        except _UNREACHABLE as exc:
            raise unavailable(self.url, exc, timed_out=False) from None

    def close(self) -> None:
        self._pool.close()


def chunks(items: Sequence, size: int = WRITE_CHUNK) -> Iterator[Sequence]:
    if 0 < len(items) <= size:
        yield items
        return
    for start in range(0, len(items), size):
        yield items[start : start + size]
