"""The settings of one ingest worker (:class:`ingest.service.IngestService`); the command line
and the environment map onto them in :mod:`ingest.settings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.mqtt import Protocol


@dataclass(frozen=True)
class MqttSettings:
    url: str = "mqtt://127.0.0.1:1883"  # mqtt://host[:port] or mqtts://host[:port]
    client_id: str = "jagajalan-ingest"
    protocol: Protocol = "auto"  # MQTT 5 unless the broker only speaks 3.1.1 (amqtt demo)
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    shared_group: str | None = None
    session_expiry: int = 7 * 86_400  # seconds the broker keeps the session while we are away
    max_inflight: int = 10_000  # MQTT 5 Receive Maximum: unacknowledged messages at most
    keepalive: int = 30
    dead_letter_timeout: float = 10.0  # wait this long for the broker to accept a dead letter


@dataclass(frozen=True)
class IngestSettings:
    mqtt: MqttSettings
    # Flush when this many points wait (one InfluxDB request: httpx costs about 0.5 ms of CPU
    # a request, 0.1 us a point at 5,000; InfluxDB's advice is 5,000 to 10,000)...
    batch_size: int = 10_000
    max_delay: float = 0.2  # ...or when the oldest waiting message is this old (s)
    retry_max_delay: float = 5.0  # longest pause between retries of a failed write (s)
    # Attempts at a point refused neither transiently nor as such (413, an odd answer) before
    # it is dead-lettered as store_refused (ingest/retry.py).
    max_attempts: int = 5
    parallel_writes: int = 3  # InfluxDB writes in flight at once (acknowledged in order)
    drain_timeout: float = 10.0  # at shutdown, keep retrying the last writes this long (s)
    metrics_port: int = 0  # 0 = no /metrics endpoint
    # Retire this worker: unsubscribe, write what its session still holds, and once nothing
    # arrived for this many seconds, end the session (see docs/scaling.md). None = run.
    leave_after_idle: float | None = None
    paho_speedup: bool = True  # ingest/paho_speedup.py; off: paho as shipped (bench)
    # Bytes the messages received and not yet acknowledged may hold (their lines, about:
    # writer.item_size); at this much the worker reads nothing more until writes free some.
    # The receive window (max_inflight) counts messages, whatever their size. Needs
    # paho_speedup. 0 = no bound in bytes.
    max_buffer_bytes: int = 10 * 1024 * 1024
