"""A gateway booting with its clock at 1970 (gateway/runtime/clock.py, docs/protocol.md
section 2): readings get provisional times and stay in the spool, unpublished, until the
clock is set; then they get their real times and go out. Nothing is lost.

The spool is the real SQLite spool; only the clocks are stand-ins (a wall clock that can be
set to 1970 and a monotonic clock that the test advances), because the machine's own clock
cannot be set back for a test."""

from __future__ import annotations

from pathlib import Path

from gateway.runtime.clock import (
    CLOCK_FLOOR,
    PROVISIONAL_ORIGIN,
    ClockGuard,
    GatewayClock,
    clock_set,
)
from gateway.runtime.spool import Spool
from telemetry.models import MIN_TIME_MS, Reading

REAL = 1_796_515_200.0  # 2026-12-06T00:00:00Z: the right time


class Clocks:
    """The system clock (1970 until set) and the monotonic clock, advanced together."""

    def __init__(self) -> None:
        self.wall = 12.5  # booted without an RTC: 12.5 s after 1970
        self.mono = 40.0  # seconds since boot

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def reading(clock: GatewayClock, sensor: str = "env1") -> Reading:
    return Reading(
        sensor=sensor, measurement="air_quality", time=round(clock() * 1000), fields={"pm25": 1.0}
    )


def test_the_floor_is_a_date_before_this_release_and_after_the_contracts() -> None:
    assert MIN_TIME_MS / 1000 < CLOCK_FLOOR < REAL
    assert not clock_set(0.0) and not clock_set(CLOCK_FLOOR - 1) and clock_set(CLOCK_FLOOR)


def test_unset_clock_gives_provisional_times_set_clock_the_wall() -> None:
    c = Clocks()
    clock = GatewayClock(lambda: c.wall, lambda: c.mono)
    assert not clock.is_set()
    assert clock() == PROVISIONAL_ORIGIN + 40.0  # valid for the contract, before the floor
    assert round(clock() * 1000) >= MIN_TIME_MS
    c.wall = REAL
    assert clock.is_set() and clock() == REAL
    # A provisional time plus the shift is the real time of the same instant.
    assert clock.shift_ms() == round((REAL - PROVISIONAL_ORIGIN - 40.0) * 1000)


def test_readings_are_held_until_the_clock_is_set_then_published_at_their_real_times(
    tmp_path: Path,
) -> None:
    c = Clocks()
    clock = GatewayClock(lambda: c.wall, lambda: c.mono)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.check()
        assert guard.holding and spool.held
        taken_at_mono = []
        for _ in range(5):  # one reading a second, the clock still at 1970
            with guard.lock:
                spool.append(guard.admit([reading(clock)]))
            taken_at_mono.append(c.mono)
            c.advance(1.0)
        assert spool.next_batch(100) is None  # held: nothing published
        assert guard.status() == {"clock": "unset", "held": 5}
        # NTP sets the clock: the machine is at mono 45 s, the right time is REAL.
        c.wall = REAL
        guard.check()
        assert not guard.holding and not spool.held and guard.status() == {}
        assert guard.redated == 5
        batch = spool.next_batch(100)
        assert batch is not None
        _, got, _ = batch
        real = [round((REAL - (c.mono - m)) * 1000) for m in taken_at_mono]
        assert [r.time for r in got] == real  # 5 s, 4 s, ... 1 s before the clock was set
        assert spool.oldest_age() is not None and spool.oldest_age() <= 5.0  # append times too


def test_a_provisional_reading_taken_just_before_the_clock_was_set_is_redated(
    tmp_path: Path,
) -> None:
    c = Clocks()
    clock = GatewayClock(lambda: c.wall, lambda: c.mono)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.check()
        late = reading(clock)  # stamped while unset ...
        c.advance(0.5)
        c.wall = REAL
        guard.check()  # ... the clock is set and the spool released before it is appended
        (admitted,) = guard.admit([late])
        assert admitted.time == round((REAL - 0.5) * 1000)


def test_readings_of_other_times_are_never_redated(tmp_path: Path) -> None:
    """A device's own time (a 2025 record, a 2000 device clock before this boot) is its own."""
    c = Clocks()
    c.mono = 10.0
    clock = GatewayClock(lambda: c.wall, lambda: c.mono)
    device_time = 1_764_489_600_000  # 2025-11-30
    from_before_boot = MIN_TIME_MS + 3_600_000  # 2000-01-01T01:00Z: beyond 10 s of uptime
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.check()
        for t in (device_time, from_before_boot):
            with guard.lock:
                spool.append(
                    guard.admit(
                        [Reading(sensor="c1", measurement="traffic", time=t, fields={"count": 1})]
                    )
                )
        c.wall = REAL
        guard.check()
        assert guard.redated == 0
        _, got, _ = spool.next_batch(100) or (0, [], [])
        assert [r.time for r in got] == [device_time, from_before_boot]


def test_a_set_clock_never_holds(tmp_path: Path) -> None:
    clock = GatewayClock(lambda: REAL, lambda: 40.0)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.check()
        r = reading(clock)
        assert guard.admit([r]) == [r]
        spool.append([r])
        assert not spool.held and spool.next_batch(100) is not None
