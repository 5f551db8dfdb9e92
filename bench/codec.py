"""Telemetry codec: bytes per reading and encode/decode rates, JSON (v1) and compact (v2)."""

from __future__ import annotations

import time
from collections.abc import Callable

from telemetry import decode_batch, encode_batch
from telemetry.mapping import batch_to_points, to_lines
from testkit.wire import standard_batch, wire_bytes_per_reading


def rate(work: Callable[[], object], readings: int, rounds: int = 1000) -> float:
    """Readings per second through *work*, one call per batch of *readings*."""
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return rounds * readings / (time.perf_counter() - start)


def main() -> None:
    batch = standard_batch(50)
    for encoding in ("json", "compact"):
        payload = encode_batch(batch, encoding)
        print(f"{encoding}_payload_bytes_per_reading_batch50 {len(payload) / 50:.1f} bytes")
        wire = wire_bytes_per_reading(batch, payload)
        print(f"{encoding}_wire_bytes_per_reading_batch50 {wire:.1f} bytes")
        encode = rate(lambda e=encoding: encode_batch(batch, e), 50)
        print(f"{encoding}_encode_rate {encode:.0f} readings/s")
        decode = rate(lambda p=payload: decode_batch(p), 50)
        print(f"{encoding}_decode_rate {decode:.0f} readings/s")
    mapping = rate(lambda: to_lines(batch_to_points(batch)), 50)
    print(f"map_and_line_protocol_rate {mapping:.0f} readings/s")


if __name__ == "__main__":
    main()
