"""Telemetry codec: encode/decode rate and bytes on the wire per reading (JSON, payload v1)."""

from __future__ import annotations

import time

from telemetry import Batch, Reading, decode_batch, encode_batch
from telemetry.mapping import batch_to_points, to_lines

T0 = 1_764_489_600_000


def make_batch(n: int = 50) -> Batch:
    readings = [
        Reading(
            sensor="env1",
            measurement="air_quality",
            time=T0 + i * 5000,
            fields={"pm25": 41.3 + i / 10, "pm10": 63.0, "temperature": 29.4, "humidity": 78.5},
        )
        for i in range(n)
    ]
    return Batch(gateway="srl-pasar-01", seq=1842, sent=T0 + n * 5000, readings=readings)


def main() -> None:
    batch = make_batch(50)
    payload = encode_batch(batch)
    print(f"json_bytes_per_reading_batch50 {len(payload) / 50:.1f} bytes")
    rounds = 2000
    t = time.perf_counter()
    for _ in range(rounds):
        decode_batch(payload)
    dt = time.perf_counter() - t
    print(f"decode_rate {rounds * 50 / dt:.0f} readings/s")
    t = time.perf_counter()
    for _ in range(rounds):
        to_lines(batch_to_points(batch))
    dt = time.perf_counter() - t
    print(f"map_and_line_protocol_rate {rounds * 50 / dt:.0f} readings/s")


if __name__ == "__main__":
    main()
