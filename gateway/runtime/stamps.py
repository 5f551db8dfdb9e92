"""One time per reading of a series: the stamping rule (docs/protocol.md, section 2).

InfluxDB identifies a point by measurement, tags and time, so two readings of one series
(measurement, sensor and the reading's own tags, on one gateway) with the same millisecond
would be one point: the later overwrites the earlier. A clock that steps back (NTP correcting
a clock that ran ahead, a GPS fix, an operator) makes the gateway re-live times it has already
stamped, and a driver that polls on aligned ticks (Modbus: multiples of ``poll_interval``)
then lands on the very milliseconds it used before.

The rule: a reading keeps the gateway clock's time of its observation, unless that
millisecond is already used by a reading of the same series; then it is moved 1 ms later
until its time is free (counted in :attr:`SeriesStamps.moved`). The clock's time is kept to
within a few milliseconds, also after a step back (no monotonic "previous + 1 ms" that would
pile an hour of readings onto the time the clock had before it was corrected).

Memory is bounded: per series, the times used that are not older than ``horizon`` seconds
behind the time being stamped (the clock's time now, for that series), at most
``max_per_series`` of them (the oldest go first). A step back of more than ``horizon``, or
a restart of the gateway between the step and the re-lived time, is not covered
(docs/reliability.md, section 5).
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Sequence

from telemetry.models import Reading

#: Seconds of used times kept per series (a step back of up to this is covered).
HORIZON_S = 6 * 3600.0
#: Most times kept per series (6 h of a 1 s poll interval fits; 8 bytes each).
MAX_PER_SERIES = 32_768

Series = tuple[str, str, tuple[tuple[str, str], ...]]


def series_of(reading: Reading) -> Series:
    """The part of a reading's InfluxDB identity that is not its time (the gateway is fixed)."""
    return reading.measurement, reading.sensor, tuple(sorted(reading.tags.items()))


class SeriesStamps:
    """The times used per series; :meth:`stamp` applies the rule. Thread-safe."""

    def __init__(self, horizon_s: float = HORIZON_S, max_per_series: int = MAX_PER_SERIES) -> None:
        self.horizon_ms = round(horizon_s * 1000)
        self.max_per_series = max_per_series
        self.moved = 0  # readings moved off a time already used by their series
        self._used: dict[Series, array] = {}  # series -> sorted times (ms)
        self._lock = threading.Lock()

    def stamp(self, readings: Sequence[Reading]) -> list[Reading]:
        """*readings* with times unique within their series (moved ones are copies)."""
        out = []
        with self._lock:
            for reading in readings:
                used = self._used.setdefault(series_of(reading), array("q"))
                time = reading.time
                at = bisect.bisect_left(used, time)
                while at < len(used) and used[at] == time:
                    time += 1
                    at += 1
                if time != reading.time:
                    self.moved += 1
                    reading = reading.model_copy(update={"time": time})
                used.insert(at, time)
                self._prune(used, time)
                out.append(reading)
        return out

    def _prune(self, used: array, now: int) -> None:
        cut = bisect.bisect_left(used, now - self.horizon_ms)
        cut = max(cut, len(used) - self.max_per_series)
        if cut > 0:
            del used[:cut]

    def kept(self) -> int:
        """Times remembered, all series together (for tests and the curious)."""
        with self._lock:
            return sum(len(used) for used in self._used.values())
