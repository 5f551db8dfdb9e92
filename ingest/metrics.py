"""Prometheus metrics of one ingest worker, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "jagajalan_ingest_messages_received",
            "MQTT messages received, by topic kind (readings, status)",
            ["kind"],
            registry=r,
        )
        self.malformed = Counter(
            "jagajalan_ingest_malformed",
            "messages refused (not written), by reason",
            ["reason"],
            registry=r,
        )
        self.points_written = Counter(
            "jagajalan_ingest_points_written", "points written to the store", registry=r
        )
        self.points_rejected = Counter(
            "jagajalan_ingest_points_rejected",
            "points the store refused (e.g. field type conflict); logged, not written",
            registry=r,
        )
        self.write_errors = Counter(
            "jagajalan_ingest_write_errors",
            "failed store writes: unavailable or auth (retried), rejected (a batch in which"
            " the store refused points)",
            ["kind"],
            registry=r,
        )
        self.retries = Counter(
            "jagajalan_ingest_write_retries", "store writes retried after a failure", registry=r
        )
        self.buffer_points = Gauge(
            "jagajalan_ingest_buffer_points", "points waiting to be written", registry=r
        )
        self.buffer_messages = Gauge(
            "jagajalan_ingest_buffer_messages",
            "messages received and not yet acknowledged",
            registry=r,
        )
        self.connected = Gauge(
            "jagajalan_ingest_connected",
            "1 while connected to the broker and subscribed, else 0",
            registry=r,
        )
        self._server = None

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Expose ``/metrics`` over HTTP; returns the bound port (0 means off: returns 0)."""
        if port <= 0:
            return 0
        self._server, _ = start_http_server(port, addr, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
