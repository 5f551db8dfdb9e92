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
    boot_id,
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


def take(guard: ClockGuard, spool: Spool, c: Clocks, n: int) -> list[int]:
    """*n* readings a second apart through the guard into the spool; their times."""
    times = []
    for _ in range(n):
        with guard.lock:
            (r,) = guard.admit([reading(guard.clock)])
            spool.append([r])
        times.append(r.time)
        c.advance(1.0)
    return times


def test_a_reboot_while_unset_continues_the_provisional_clock(tmp_path: Path) -> None:
    """Boot A takes 5 readings with the clock unset, power is cut, boot B (monotonic time
    from 0 again, a new boot id) takes 3 more, then NTP sets the clock. Boot B's readings get
    their exact times; boot A's follow on from where its clock stopped: in order, before boot
    B's, none in the future (without the continuation boot A's provisional times, 40-44 s of
    uptime, lay after boot B's, 20-22 s, and were re-dated 20 s into the future)."""
    a = Clocks()
    clock = GatewayClock(lambda: a.wall, lambda: a.mono)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.resume(boot=111)
        guard.check()
        boot_a = take(guard, spool, a, 5)
    b = Clocks()  # power cut, booted again: 1970, 20 s of uptime
    b.mono = 20.0
    clock = GatewayClock(lambda: b.wall, lambda: b.mono)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.resume(boot=222)
        assert clock.origin > PROVISIONAL_ORIGIN and guard.earlier_boot == 5
        guard.check()
        boot_b = take(guard, spool, b, 3)
        assert min(boot_b) > max(boot_a)  # one provisional clock across both boots
        assert guard.status() == {"clock": "unset", "held": 8, "held_earlier_boot": 5}
        b.wall = REAL
        guard.check()
        assert guard.redated == 8 and guard.earlier_boot == 0 and guard.status() == {}
        _, got, _ = spool.next_batch(100) or (0, [], [])
    times = [r.time for r in got]
    real_ms = round(REAL * 1000)
    assert times[5:] == [real_ms - 3000, real_ms - 2000, real_ms - 1000]  # boot B: exact
    assert times == sorted(times) and len(set(times)) == 8
    assert times[:5] == [t + times[5] - 1000 - boot_a[-1] for t in boot_a]  # 1 s before B's
    assert max(times) < real_ms


def test_a_restart_within_a_boot_keeps_the_origin_and_exact_times(tmp_path: Path) -> None:
    """The gateway service restarts (same boot id, monotonic time runs on): the origin stored
    for the boot is taken again, so every held reading is re-dated exactly, also when NTP
    set the clock while the gateway was down (a guard that never held used to leave them
    with their 2000-based times)."""
    c = Clocks()
    origins = []
    times: list[int] = []
    for _ in range(2):
        clock = GatewayClock(lambda: c.wall, lambda: c.mono)
        with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
            guard = ClockGuard(clock, spool)
            guard.resume(boot=111)
            origins.append(clock.origin)
            guard.check()
            times += take(guard, spool, c, 3)
        c.advance(7.0)  # the restart takes 7 s
    assert origins == [PROVISIONAL_ORIGIN, PROVISIONAL_ORIGIN]
    clock = GatewayClock(lambda: c.wall, lambda: c.mono)
    with Spool(tmp_path / "spool.sqlite", clock=clock) as spool:
        guard = ClockGuard(clock, spool)
        guard.resume(boot=111)
        assert guard.earlier_boot == 0
        c.wall = REAL
        guard.check()
        _, got, _ = spool.next_batch(100) or (0, [], [])
    shift = round((REAL - PROVISIONAL_ORIGIN - c.mono) * 1000)
    assert [r.time for r in got] == [t + shift for t in times]


def test_the_boot_id_is_the_kernels(tmp_path: Path) -> None:
    f = tmp_path / "boot_id"
    f.write_text("0f3c9a8e-1b2d-4c5e-9f60-718293a4b5c6\n")
    assert boot_id(str(f)) == 0x0F3C9A8E1B2D4C5
    assert boot_id(str(tmp_path / "missing")) is None
    f.write_text("not an id\n")
    assert boot_id(str(f)) is None
    assert boot_id() is not None  # this machine's (Linux)
