"""The gateway's clock, and what happens while it is not set (docs/protocol.md, section 2).

A gateway without a real-time clock boots at 1970 and has the right time only once NTP (or a
GPS) sets it, which on a roadside link may take hours. A reading stamped 1970 would be refused
by the contract (2000 <= time < 2100), and a reading stamped with a wrong but plausible time
would land where nobody looks. So:

* The clock is **unset** while the system clock shows a time before :data:`CLOCK_FLOOR`
  (2025-01-01, a date before any build of this software: no reading of it can be older).
* While it is unset, :class:`GatewayClock` gives the drivers a **provisional** time: 2000-01-01
  plus the seconds since the machine booted (``CLOCK_MONOTONIC``, which a clock step does not
  move). Such a reading is valid for the contract, so it enters the spool like any other, and
  the spool **holds** every reading (publishes nothing) while the clock is unset: nothing is
  lost, nothing is published with a time that is not one.
* When the clock becomes set, every held reading with a provisional time is given its real
  time: ``provisional + (wall now - provisional now)``, exact for readings taken since this
  boot (monotonic time runs on across a restart of the gateway, not across a reboot); then
  the spool publishes them.

The status shows ``clock: "unset"`` and how many readings are held; ``jagajalan gateway doctor``
reports an unset clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.runtime.spool import Spool
from telemetry.models import MIN_TIME_MS, Reading

log = logging.getLogger(__name__)

#: No time before this is a real time: 2025-01-01 UTC, earlier than any build of this
#: software. The doctor's "implausible clock" uses it too (gateway/tools/doctor/checks.py).
CLOCK_FLOOR = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
#: A provisional time is this plus the seconds since boot (2000-01-01, the contract's floor).
PROVISIONAL_ORIGIN = MIN_TIME_MS / 1000


def clock_set(now: float) -> bool:
    """True if *now* (seconds since the epoch) can be a real time for this release."""
    return now >= CLOCK_FLOOR


class GatewayClock:
    """The wall clock while it is set; a provisional time (see the module doc) while not."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wall = wall
        self.monotonic = monotonic

    def __call__(self) -> float:
        now = self.wall()
        return now if clock_set(now) else PROVISIONAL_ORIGIN + self.monotonic()

    def is_set(self) -> bool:
        return clock_set(self.wall())

    def shift_ms(self) -> int:
        """What turns a provisional time of this boot into the real one (ms)."""
        return round((self.wall() - PROVISIONAL_ORIGIN - self.monotonic()) * 1000)

    def provisional_until_ms(self) -> int:
        """Times from 2000-01-01 up to this are provisional times of this boot."""
        return round((PROVISIONAL_ORIGIN + self.monotonic()) * 1000) + 1


class ClockGuard:
    """Holds the spool while the clock is unset and re-dates the held readings once it is
    set. The service's sink passes every reading through :meth:`admit` and appends it under
    :attr:`lock`, so no provisional reading slips into the spool after the re-dating."""

    def __init__(self, clock: GatewayClock, spool: Spool) -> None:
        self.clock = clock
        self.spool = spool
        self.holding = False
        self.redated = 0  # held readings given their real time, this run
        self.lock = threading.RLock()
        self._held_once = False  # provisional times exist only after a hold

    def check(self) -> None:
        """Hold or release the spool according to the clock (idempotent)."""
        with self.lock:
            unset = not self.clock.is_set()
            if unset and not self.holding:
                self.holding = self.spool.held = self._held_once = True
                log.warning(
                    "gateway clock is not set (%.0f s since 1970): readings are kept in the "
                    "spool, not published, until it is (check NTP or the GPS)",
                    self.clock.wall(),
                )
            elif not unset and self.holding:
                count = self.spool.redate(self.clock.provisional_until_ms(), self.clock.shift_ms())
                self.redated += count
                self.holding = self.spool.held = False
                log.info("gateway clock is set: %d held reading(s) re-dated, publishing", count)

    def admit(self, readings: Sequence[Reading]) -> Sequence[Reading]:
        """*readings* for the spool: a provisional one taken just before the clock was set
        gets its real time like the held ones."""
        with self.lock:
            self.check()
            if self.holding or not self._held_once:
                return readings
            until, shift = self.clock.provisional_until_ms(), None
            out = []
            for r in readings:
                if MIN_TIME_MS <= r.time < until:
                    shift = self.clock.shift_ms() if shift is None else shift
                    r = r.model_copy(update={"time": r.time + shift})
                    self.redated += 1
                out.append(r)
            return out

    def status(self) -> dict[str, Any]:
        """Status keys: ``clock: "unset"`` and ``held`` (readings waiting) while unset."""
        return {"clock": "unset", "held": self.spool.depth()} if self.holding else {}
