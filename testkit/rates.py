"""Pure helpers of the benchmarks that tests hold to account: MQTT wire sizes and rates."""

from __future__ import annotations


def varint(n: int) -> bytes:
    """An MQTT variable byte integer (a packet's remaining length)."""
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def window_rate(samples: list[tuple[float, list[float]]]) -> float:
    """Messages/s from (time, acknowledged count per worker) samples, the last taken when
    all were acknowledged: over the samples from the first where every worker has
    acknowledged something to the first where one has reached its final count."""
    final = samples[-1][1]
    start = next(i for i, (_, c) in enumerate(samples) if all(c))
    end = next(
        i for i, (_, c) in enumerate(samples) if any(n >= f for n, f in zip(c, final, strict=True))
    )
    if end <= start:  # a worker finished before the last one started: count all of it,
        # from the last sample before any acknowledgement (so never a span of zero)
        start = max(0, next(i for i, (_, c) in enumerate(samples) if any(c)) - 1)
        end = len(samples) - 1
    (t0, c0), (t1, c1) = samples[start], samples[end]
    return (sum(c1) - sum(c0)) / (t1 - t0)
