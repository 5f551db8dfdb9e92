"""Replaying a backlog after an outage: oldest first, rate limited, fresh readings first.

Pure scheduling (no I/O; the clock is passed in). :class:`gateway.runtime.publisher.Publisher` asks
it which spool rows may go out now.

When the broker connection comes up (first start, or after an outage), every reading waiting
in the spool is the **backlog**: the rows up to the spool's newest row id at that moment, the
*boundary*. From then on the publisher keeps two lanes over the spool, both oldest first:

fresh lane
    rows appended after the boundary. A batch goes out as soon as it is ready (``max_batch``
    readings, or the oldest has waited ``max_delay``), on every publisher cycle and before
    anything from the backlog. Live data is never held behind a backlog.
backlog lane
    rows up to the boundary, at most ``replay_rate`` readings per second on average. A token
    bucket (one second of tokens at most) may go into debt by one batch, so batches stay
    full-sized (fewer bytes of overhead per reading on a paid link) and the long-run rate is
    exactly ``replay_rate``: over any T seconds at most ``replay_rate * (T + 1) + max_batch``
    backlog readings are sent. The backlog uses at most ``max_inflight - 1`` of the in-flight
    slots (one if ``max_inflight`` is 1), so a slow link never blocks the fresh lane.

When the backlog lane finds nothing left up to the boundary, the backlog is done and the
publisher is back to one lane. A new outage starts a new backlog at the next connect.

Order guarantees (per sensor)
    The spool keeps readings in append order, which per sensor is the order the driver took
    them. Each lane publishes its batches in that order, and MQTT keeps the order of one
    client's QoS 1 messages. So the receiver sees each sensor's backlog readings in the order
    taken, and its fresh readings in the order taken; **fresh readings may arrive before
    older backlog readings of the same sensor** (that is the point). A re-send (a batch the
    broker refused, or one in flight at a disconnect or a crash) repeats readings out of
    that order. Neither matters to the store: a reading's point identity (measurement,
    tags, time) comes from the reading, so any delivery order, and any repetition, gives
    the same points.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """*rate* tokens per second, at most *capacity* banked; taking may go into debt."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.tokens = capacity
        self._last = clock()

    def reset(self) -> None:
        """Full again (at the start of a replay)."""
        self.tokens = self.capacity
        self._last = self.clock()

    def ready(self) -> bool:
        """Whether something may be taken now (the bucket is out of debt)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now
        return self.tokens > 0

    def take(self, count: int) -> None:
        self.tokens -= count


class Replay:
    """The backlog lane's state: boundary, rate limit and progress."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.bucket = TokenBucket(rate, rate, clock)  # one second of tokens banked
        self.boundary: int | None = None  # rows with id <= boundary are the backlog
        self.sent = 0
        self._started = 0.0

    @property
    def active(self) -> bool:
        return self.boundary is not None

    def begin(self, boundary: int | None) -> None:
        """A connection came up; rows up to *boundary* (None: empty spool) are the backlog."""
        self.boundary = boundary
        self.sent = 0
        self._started = self.clock()
        self.bucket.reset()

    def fresh_after(self) -> int:
        """Row ids above this are the fresh lane."""
        return self.boundary or 0

    def may_send(self) -> bool:
        return self.active and self.bucket.ready()

    def took(self, count: int) -> None:
        """A backlog batch of *count* readings went out."""
        self.sent += count
        self.bucket.take(count)

    def finish(self) -> tuple[int, float]:
        """The backlog is replayed: ``(readings sent, seconds taken)``; back to one lane."""
        self.boundary = None
        return self.sent, self.clock() - self._started


def backlog_slots(max_inflight: int) -> int:
    """In-flight batches the backlog may use: all but one, so fresh batches always fit."""
    return max(1, max_inflight - 1)
