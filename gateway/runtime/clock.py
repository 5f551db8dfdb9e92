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
* A **reboot while the clock is still unset** (a power cut, again): monotonic time starts
  over, so this boot's provisional times would fall among the held readings of the earlier
  boot, and the re-dating would shift those by this boot's offset. So the provisional clock
  continues where the earlier boot's stopped (:meth:`ClockGuard.resume`): its origin is set
  so that it is one second past the last append time of the held readings, and kept in the
  spool per boot (the kernel's boot id), so a restart of the gateway within a boot keeps it.
  Re-dated, the earlier boot's readings are then late by the time the gateway was off (which
  nothing on it measured): in order, before this boot's, never in the future, never before
  the power cut. The status and the log say how many readings are such estimates.

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

from gateway.runtime.spool import Spool, SpoolError
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
        #: A provisional time is this plus the monotonic time (ClockGuard.resume moves it).
        self.origin = PROVISIONAL_ORIGIN

    def __call__(self) -> float:
        now = self.wall()
        return now if clock_set(now) else self.origin + self.monotonic()

    def is_set(self) -> bool:
        return clock_set(self.wall())

    def shift_ms(self) -> int:
        """What turns a provisional time of this boot into the real one (ms)."""
        return round((self.wall() - self.origin - self.monotonic()) * 1000)

    def provisional_until_ms(self) -> int:
        """Times from 2000-01-01 up to this are provisional times (of this boot, and of
        earlier ones the clock continued from)."""
        return round((self.origin + self.monotonic()) * 1000) + 1


def boot_id(path: str = "/proc/sys/kernel/random/boot_id") -> int | None:
    """The kernel's id of this boot as an integer (its first 60 bits); None where there is
    none (not Linux): then every start counts as a new boot."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip().replace("-", "")[:15], 16)
    except (OSError, ValueError):
        return None


class ClockGuard:
    """Holds the spool while the clock is unset and re-dates the held readings once it is
    set. The service's sink passes every reading through :meth:`admit` and appends it under
    :attr:`lock`, so no provisional reading slips into the spool after the re-dating."""

    def __init__(self, clock: GatewayClock, spool: Spool) -> None:
        self.clock = clock
        self.spool = spool
        self.holding = False
        self.redated = 0  # held readings given their real time, this run
        self.earlier_boot = 0  # held readings of an earlier boot: their real times estimated
        self.lock = threading.RLock()
        self._held_once = False  # provisional times exist only after a hold

    def resume(self, boot: int | None) -> None:
        """At start, before any reading: the provisional origin of this *boot* (module doc).
        The one stored for this boot if there is one (a restart of the gateway); else one
        that continues after the spool's readings appended while the clock was unset (an
        earlier boot's), or :data:`PROVISIONAL_ORIGIN` if there are none. Readings appended
        while the clock was unset are held, and re-dated by the next :meth:`check` if the
        clock is set by now (a restart after NTP set it)."""
        kept = self.spool.meta("boot", "provisional_origin_ms", "held_earlier_boot")
        last, count = self.spool.appended_before(CLOCK_FLOOR)
        if last is not None:
            self.holding = self.spool.held = self._held_once = True
        if boot is not None and boot == kept.get("boot") and "provisional_origin_ms" in kept:
            self.clock.origin = kept["provisional_origin_ms"] / 1000
            self.earlier_boot = kept.get("held_earlier_boot", 0) if last is not None else 0
            return
        origin = PROVISIONAL_ORIGIN
        if last is not None:
            origin = max(origin, last + 1.0 - self.clock.monotonic())
            self.earlier_boot = count
            log.warning(
                "%d reading(s) held from an earlier boot while the clock was unset: this "
                "boot's provisional clock continues after them; once the clock is set, their "
                "times are estimates (late by the time the gateway was off)",
                count,
            )
        self.clock.origin = origin
        try:
            self.spool.set_meta(
                boot=boot or 0,
                provisional_origin_ms=round(origin * 1000),
                held_earlier_boot=self.earlier_boot,
            )
        except SpoolError as exc:  # a full disk must not stop the gateway from starting
            log.warning("cannot keep the provisional clock's origin in the spool: %s", exc)

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
                log.info(
                    "gateway clock is set: %d held reading(s) re-dated (%d of an earlier boot: "
                    "estimates), publishing",
                    count,
                    self.earlier_boot,
                )
                if self.earlier_boot:
                    self.earlier_boot = 0
                    self.spool.set_meta(held_earlier_boot=0)

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
        """Status keys while unset: ``clock: "unset"``, ``held`` (readings waiting) and, if
        some were held from an earlier boot, ``held_earlier_boot``."""
        if not self.holding:
            return {}
        earlier = {"held_earlier_boot": self.earlier_boot} if self.earlier_boot else {}
        return {"clock": "unset", "held": self.spool.depth(), **earlier}
