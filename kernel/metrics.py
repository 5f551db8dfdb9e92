"""Prometheus ``/metrics`` over HTTP for a service that has no web server of its own (the
indicators job; ingest's :class:`ingest.metrics.IngestMetrics` does the same): each service keeps
its metrics on a registry of its own (no global state) and hands it here.

The endpoint is prometheus_client's small HTTP server on a thread of its own; it answers
``GET /metrics`` (any path, in fact) with the text format and nothing else.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

#: Seconds: from a fast SQLite read to a store call that hits its timeout.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class MetricsServer:
    """``/metrics`` of *registry* on a port, until :meth:`close`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._server = None

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Start serving; returns the bound port. *port* 0 means off: nothing starts, 0 is
        returned. Raises OSError when the port cannot be bound."""
        if port <= 0:
            return 0
        self._server, _ = start_http_server(port, addr, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
