"""Shared by the benchmarks and the compact codec tests: the standard batch and its wire size.

The standard batch is what a roadside air-quality sensor produces: 50 ``air_quality``
readings (pm25, pm10, temperature, humidity) polled every 5 s, values rounded to one decimal
as the Modbus profiles deliver them, drifting like real air (a seeded random walk, so the
batch is the same on every run).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from telemetry import Batch, Reading, topics

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z
POLL_MS = 5000
GATEWAY = "srl-pasar-01"


def air_quality_readings(
    sensor: str = "env1", *, t0: int = T0, poll_ms: int = POLL_MS, seed: int = 1
) -> Iterator[Reading]:
    """An endless, reproducible series of four-field air-quality readings."""
    rng = random.Random(seed)
    pm25, pm10, temperature, humidity = 41.3, 63.0, 29.4, 78.5
    i = 0
    while True:
        pm25 = round(min(500.0, max(0.0, pm25 + rng.uniform(-2, 2))), 1)
        pm10 = round(min(600.0, max(pm25, pm10 + rng.uniform(-3, 3))), 1)
        temperature = round(min(40.0, max(18.0, temperature + rng.uniform(-0.2, 0.2))), 1)
        humidity = round(min(100.0, max(40.0, humidity + rng.uniform(-0.5, 0.5))), 1)
        fields = {"pm25": pm25, "pm10": pm10, "temperature": temperature, "humidity": humidity}
        yield Reading(
            sensor=sensor, measurement="air_quality", time=t0 + i * poll_ms, fields=fields
        )
        i += 1


def standard_batch(n: int = 50, seq: int = 1842, t0: int = T0) -> Batch:
    series = air_quality_readings(t0=t0)
    readings = [next(series) for _ in range(n)]
    return Batch(gateway=GATEWAY, seq=seq, sent=readings[-1].time + 250, readings=readings)


def _varint_size(n: int) -> int:
    size = 1
    while n >= 128:
        n >>= 7
        size += 1
    return size


def publish_packet_size(topic: str, payload: bytes) -> int:
    """Bytes of an MQTT 5 PUBLISH at QoS 1 without properties: fixed header (1 byte plus the
    remaining length), topic (2-byte length plus UTF-8), packet id (2), properties length
    (1, for zero properties) and payload."""
    remaining = 2 + len(topic.encode()) + 2 + 1 + len(payload)
    return 1 + _varint_size(remaining) + remaining


def wire_bytes_per_reading(batch: Batch, payload: bytes) -> float:
    """Everything the PUBLISH of *payload* on the batch's readings topic carries, per reading."""
    return publish_packet_size(topics.readings(batch.gateway), payload) / len(batch.readings)
