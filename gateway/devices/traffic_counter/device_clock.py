"""The traffic counter's own clock as the gateway follows it. Pure: no I/O, no clock.

Vehicle records and heartbeats carry the counter's time (docs/protocol.md 5.1), and the
aggregator cuts its intervals on that time. Between two lines (a quiet road sends a heartbeat
every 10 s) the gateway must still close intervals on time, so it needs to know what time it
is *on the counter's clock*. It used to take its own wall clock for that, which goes wrong
whenever the two disagree: an hour's forward step of the gateway clock closed the next hour of
the counter's intervals at once, as zeros, and the counter's vehicles of that hour then fell
into closed intervals (``late``, not counted). A counter whose clock is a few seconds behind the
gateway's lost its records the same way.

:class:`DeviceClock` instead carries the counter's time forward from its last line by the
monotonic clock, which no step of the wall clock moves: ``now = last line's time + monotonic
time since that line``. It is re-anchored at every line, so the drift between the two clocks
never adds up beyond one silence (at most ``heartbeat_timeout``, after which the driver pauses
aggregation anyway). A record delivered late makes the estimate briefly lag, which only delays
closing (the aggregator never closes backwards).

A line whose time is more than :data:`STEP_TOLERANCE_MS` away from the estimate is returned by
:meth:`DeviceClock.seen`: behind it, the counter's own clock stepped back (set by a technician,
a GPS fix); ahead of it, either a forward step or a backlog sent at once (lines queued in the
counter or the port while the gateway was not reading), which its times cannot tell apart.
"""

from __future__ import annotations

#: A line's time this far (ms) from the counter's clock as carried forward is a step of that
#: clock, not drift (ppm over one silence) nor a record sent late (well under a second).
STEP_TOLERANCE_MS = 10_000


class DeviceClock:
    """``seen(device_ms, monotonic_ms)`` at every line; ``now(monotonic_ms)`` between lines."""

    def __init__(self) -> None:
        self._device_ms: int | None = None
        self._monotonic_ms = 0

    def seen(self, device_ms: int, monotonic_ms: int) -> int:
        """A line stamped *device_ms* by the counter arrived at *monotonic_ms*: re-anchor.
        Returns the step of the counter's clock, ms (0 within :data:`STEP_TOLERANCE_MS`)."""
        expected = self.now(monotonic_ms)
        self._device_ms = device_ms
        self._monotonic_ms = monotonic_ms
        if expected is None or abs(device_ms - expected) <= STEP_TOLERANCE_MS:
            return 0
        return device_ms - expected

    def now(self, monotonic_ms: int) -> int | None:
        """The counter's time now, estimated; None before the first line (or after reset)."""
        if self._device_ms is None:
            return None
        return self._device_ms + max(0, monotonic_ms - self._monotonic_ms)

    def reset(self) -> None:
        """Forget the anchor (the port failed or the counter went silent)."""
        self._device_ms = None
