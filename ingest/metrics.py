"""Prometheus metrics of one ingest worker, on a registry of its own (no global state), served
by :class:`kernel.metrics.MetricsServer` (as the indicators job's)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from kernel.metrics import MetricsServer

MESSAGE_KINDS = ("readings", "status", "other")


class Received(Collector):
    """What arrived, counted per message without a lock: plain ints that only the thread
    receiving messages (paho's network thread) adds to, read when ``/metrics`` is scraped.
    A prometheus_client ``Counter`` takes a lock on every ``inc()``; here that would be
    three locks per message on the hot path, for counts nobody reads more often than every
    few seconds."""

    def __init__(self) -> None:
        self.messages = dict.fromkeys(MESSAGE_KINDS, 0)
        self.readings = 0
        self.points = 0

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "jagajalan_ingest_messages_received",
            "MQTT messages received, by topic kind (readings, status, other)",
            labels=["kind"],
        )
        for kind, n in list(self.messages.items()):
            messages.add_metric([kind], n)
        yield messages
        yield CounterMetricFamily(
            "jagajalan_ingest_readings_received",
            "readings in accepted messages",
            value=self.readings,
        )
        yield CounterMetricFamily(
            "jagajalan_ingest_points_received",
            "points to write from accepted messages (readings plus pipeline points)",
            value=self.points,
        )


_SIZE_BUCKETS = (1, 10, 50, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000)
_WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3_600, 21_600, 86_400)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Received()
        r.register(self.received)
        self.malformed = Counter(
            "jagajalan_ingest_malformed",
            "messages refused whole (dead-lettered, not written), by reason",
            ["reason"],
            registry=r,
        )
        self.points_written = Counter(
            "jagajalan_ingest_points_written", "points written to the store", registry=r
        )
        self.points_rejected = Counter(
            "jagajalan_ingest_points_rejected",
            "points the store refused (e.g. field type conflict); dead-lettered",
            registry=r,
        )
        self.dead_letters = Counter(
            "jagajalan_ingest_dead_letters",
            "dead letters published (QoS 1, accepted by the broker), by reason",
            ["reason"],
            registry=r,
        )
        self.acked = Counter(
            "jagajalan_ingest_messages_acked",
            "messages acknowledged to the broker (written or dead-lettered)",
            registry=r,
        )
        self.write_errors = Counter(
            "jagajalan_ingest_write_errors",
            "failed attempts retried without limit: unavailable (store down, slow, 5xx), auth"
            " and configuration (the worker's settings), dead_letter (the broker did not take"
            " a dead letter), error (anything else); and rejected: a batch in which the store"
            " refused points",
            ["kind"],
            registry=r,
        )
        self.refused_attempts = Counter(
            "jagajalan_ingest_refused_attempts",
            "write attempts refused for a reason neither transient nor about the points as"
            " such (HTTP 413, an unexpected answer); at most --max-attempts per point",
            registry=r,
        )
        self.dead_lettered_after_retries = Counter(
            "jagajalan_ingest_dead_lettered_after_retries",
            "points given up after --max-attempts refused attempts (dead letter store_refused)",
            registry=r,
        )
        self.misconfigured = Gauge(
            "jagajalan_ingest_store_misconfigured",
            "1 while writes fail because of this worker's store settings (credentials,"
            " privileges, a missing database, a wrong URL); nothing is acknowledged meanwhile",
            registry=r,
        )
        self.stale_acks = Counter(
            "jagajalan_ingest_stale_acks_dropped",
            "acknowledgements not sent because their message came on an earlier broker"
            " connection (the broker redelivers it on the current one)",
            registry=r,
        )
        self.retries = Counter(
            "jagajalan_ingest_write_retries",
            "store writes and dead-letter publishes retried after a failure",
            registry=r,
        )
        self.batch_points = Histogram(
            "jagajalan_ingest_batch_points",
            "points per store write batch",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.write_seconds = Histogram(
            "jagajalan_ingest_write_seconds",
            "time to store one batch, splitting and retries included",
            buckets=_WRITE_BUCKETS,
            registry=r,
        )
        self.lag_seconds = Histogram(
            "jagajalan_ingest_lag_seconds",
            "when a batch is stored: now minus the time of its newest reading",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "jagajalan_ingest_lag_last_seconds",
            "lag of the last batch stored (now minus its newest reading's time)",
            registry=r,
        )
        self.buffer_points = Gauge(
            "jagajalan_ingest_buffer_points", "points received and not yet stored", registry=r
        )
        self.unacked = Gauge(
            "jagajalan_ingest_unacked_messages",
            "messages received and not yet acknowledged",
            registry=r,
        )
        self.connected = Gauge(
            "jagajalan_ingest_connected",
            "1 while connected to the broker and subscribed, else 0",
            registry=r,
        )
        self._server = MetricsServer(self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Expose ``/metrics`` over HTTP; returns the bound port (0 means off: returns 0)."""
        return self._server.serve(port, addr)

    def close(self) -> None:
        self._server.close()
