"""The traffic counter's intervals across steps of the gateway's wall clock (issue 15,
docs/reliability.md section 5): every vehicle counted once, no interval for time that never
passed.

The driver's glue (:class:`TrafficCounterDriver`: ``handle_line`` and ``tick``) runs on wire
lines made by the protocol's own formatter, without a serial port, in simulated time: a real
time R drives three clocks, the counter's (R plus an offset and a drift: what its records
carry), the gateway's wall clock (R plus steps: the driver's ``clock``) and the monotonic clock
(the driver's ``monotonic`` seam). Faked: only time (no pty, no threads), so that an hour's
steps and minutes of traffic run in milliseconds; the real serial path is in test_driver.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.devices.traffic_counter.device_clock import DeviceClock
from gateway.devices.traffic_counter.driver import TrafficCounterConfig, TrafficCounterDriver
from gateway.devices.traffic_counter.protocol import format_heartbeat, format_record
from telemetry.models import Reading

R0 = 1_796_025_600_000  # 2026-11-30T08:00:00Z
HOUR = 3_600_000
TICK_MS = 500  # the driver's tick (TICK_INTERVAL)
HEARTBEAT_MS = 10_000  # the counter's heartbeat when no vehicle passes


@dataclass
class World:
    """Real time and the three clocks read from it. *wall_steps*, *device_steps*: (real time,
    offset) from that time on; *drift_ppm*: how much faster the counter's clock runs."""

    device_offset_ms: int = 0
    drift_ppm: float = 0.0
    wall_steps: list[tuple[int, int]] = field(default_factory=list)
    device_steps: list[tuple[int, int]] = field(default_factory=list)
    now: int = R0  # real time, ms
    published: list[tuple[int, Reading]] = field(default_factory=list)  # (device time, reading)

    def device_ms(self, real_ms: int | None = None) -> int:
        r = self.now if real_ms is None else real_ms
        stepped = _offset(self.device_steps, r)
        return r + self.device_offset_ms + stepped + round((r - R0) * self.drift_ppm / 1e6)

    def wall_s(self) -> float:
        return (self.now + _offset(self.wall_steps, self.now)) / 1000

    def monotonic_s(self) -> float:
        return (self.now - R0) / 1000 + 12_345.0  # any origin: only differences count


def _offset(steps: list[tuple[int, int]], real_ms: int) -> int:
    offset = 0
    for at, step in steps:
        if real_ms >= at:
            offset = step
    return offset


def driver_in(world: World, interval: int = 5, grace: float = 2.0) -> TrafficCounterDriver:
    config = TrafficCounterConfig.model_validate(
        {
            "id": "cnt1",
            "driver": "traffic_counter",
            "serial": {"port": "/dev/null-not-opened"},
            "interval": interval,
            "lanes": [1, 2],
            "grace": grace,
            "directions": {1: "N", 2: "S"},
        }
    )

    def sink(readings: list[Reading]) -> None:
        world.published.extend((world.device_ms(), r) for r in readings)

    driver = TrafficCounterDriver(config, sink, clock=world.wall_s)
    driver.monotonic = world.monotonic_s
    return driver


def run(world: World, driver: TrafficCounterDriver, vehicles: list[int], end_ms: int) -> None:
    """From ``world.now`` to real time *end_ms* in ticks of 500 ms: the vehicles (real times,
    ms) passed since the last tick are sent with the counter's time, a heartbeat after 10 s
    without a line, then the driver ticks."""
    pending = sorted(vehicles)
    last_line = world.now
    while world.now < end_ms:
        world.now += TICK_MS
        while pending and pending[0] <= world.now:
            real = pending.pop(0)
            lane = 1 + real % 2
            line = format_record(world.device_ms(real), lane, "NS"[lane - 1], 40.0, 1.8, "SM")
            driver.handle_line(line)
            last_line = world.now
        if world.now - last_line >= HEARTBEAT_MS:
            driver.handle_line(format_heartbeat(world.device_ms()))
            last_line = world.now
        driver.tick()


def check(world: World, driver: TrafficCounterDriver, vehicles: list[int]) -> None:
    """Every vehicle from the first published interval on is counted once, in the interval
    of its (counter's) time; intervals are contiguous, each published once, and only after
    the counter's clock passed their end."""
    interval = driver.aggregator.interval_ms
    flows = [(t, r) for t, r in world.published if r.measurement == "traffic_flow"]
    keys = Counter((r.time, r.tags["lane"]) for _, r in flows)
    assert max(keys.values()) == 1, "an interval published twice"
    starts = sorted({r.time for _, r in flows})
    assert starts == list(range(starts[0], starts[-1] + interval, interval)), "a gap"
    for published_at, r in flows:  # no interval for time that had not passed
        assert r.time + interval <= published_at, (r.time, published_at)
    truth: Counter[tuple[int, str]] = Counter()
    for real in vehicles:
        d = world.device_ms(real)
        truth[(d - d % interval, str(1 + real % 2))] += 1
    counted = {(r.time, r.tags["lane"]): r.fields["count"] for _, r in flows}
    for key, n in counted.items():
        assert n == truth.get(key, 0), key
    inside = sum(n for (start, _), n in truth.items() if starts[0] <= start <= starts[-1])
    assert sum(counted.values()) == inside
    after = sum(n for (start, _), n in truth.items() if start > starts[-1])
    assert inside + after + driver.aggregator.stats.before_start == len(vehicles)
    assert driver.aggregator.stats.late == 0


def test_an_hour_forward_and_back_of_the_gateway_clock_loses_no_vehicle() -> None:
    """The issue's case: a minute of one vehicle a second, the gateway clock an hour ahead for
    a minute, then 70 s behind for a minute, then right; 600 vehicles in the 10 minutes after
    the jump. Before the fix, the jump closed 720 intervals as zeros and all 600 were late."""
    jump = R0 + 60_000
    world = World(wall_steps=[(jump, HOUR), (jump + 60_000, -70_000), (jump + 120_000, 0)])
    driver = driver_in(world)
    vehicles = list(range(R0 + 500, jump + 600_000, 1_000))
    end = jump + 600_000 + 10_000  # 10 s more: the last intervals close
    run(world, driver, vehicles, end)
    check(world, driver, vehicles)
    assert driver.aggregator.stats.counted == len(vehicles) - driver.aggregator.stats.before_start
    assert max(r.time for _, r in world.published) < end  # nothing in the hour skipped
    assert driver.aggregator.stats.skipped_intervals == 0


def test_a_step_back_of_the_gateway_clock_closes_nothing_late() -> None:
    world = World(wall_steps=[(R0 + 30_000, -HOUR)])
    driver = driver_in(world, interval=60)
    vehicles = list(range(R0 + 1_000, R0 + 600_000, 3_700))
    run(world, driver, vehicles, R0 + 600_000 + 65_000)
    check(world, driver, vehicles)
    # The counter's clock went on: every interval up to the last one closed on time.
    assert max(r.time for _, r in world.published) == R0 + 600_000


def test_a_counter_clock_minutes_behind_the_gateway_clock_is_counted_in_full() -> None:
    """The gateway's clock only ever closed intervals by its own time: a counter 5 minutes
    behind had every record late. Its own clock, carried forward, closes them now."""
    world = World(device_offset_ms=-300_000, drift_ppm=150.0)
    driver = driver_in(world)
    vehicles = list(range(R0 + 700, R0 + 300_000, 2_300))
    run(world, driver, vehicles, R0 + 310_000)
    check(world, driver, vehicles)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 900_000), st.integers(-2 * HOUR, 2 * HOUR)), max_size=4
    ),
    device_offset_ms=st.integers(-900_000, 900_000),
    drift_ppm=st.floats(-300, 300),
    gaps=st.lists(st.integers(0, 40_000), min_size=20, max_size=150),
    interval=st.sampled_from([1, 5, 60, 300]),
)
def test_any_steps_of_the_gateway_clock_every_vehicle_counted_once(
    steps: list[tuple[int, int]],
    device_offset_ms: int,
    drift_ppm: float,
    gaps: list[int],
    interval: int,
) -> None:
    """Any steps of the wall clock (forward, back, to and fro), a counter clock off by up to
    15 minutes and drifting, any traffic (including silences beyond the heartbeat)."""
    world = World(device_offset_ms, drift_ppm, sorted((R0 + a, s) for a, s in steps))
    driver = driver_in(world, interval=interval)
    vehicles, t = [], R0
    for gap in gaps:
        t += gap + 1
        vehicles.append(t)
    end = vehicles[-1] + 2 * interval * 1000 + 3_000
    run(world, driver, vehicles, end)
    if not any(r.measurement == "traffic_flow" for _, r in world.published):
        assert driver.aggregator.stats.late == 0
        return
    check(world, driver, vehicles)


def test_a_backlog_sent_at_once_is_counted_in_full() -> None:
    """Lines of two minutes queued (in the counter or the port) arrive within one tick, then
    the stream goes on live: times far ahead of the estimate, but no step of any clock."""
    world = World()
    driver = driver_in(world)
    backlog = list(range(R0 + 300, R0 + 120_000, 700))
    world.now = R0 + 120_000
    for real in backlog:  # all of them now
        lane = 1 + real % 2
        line = format_record(world.device_ms(real), lane, "NS"[lane - 1], 40.0, 1.8, "SM")
        driver.handle_line(line)
    live = list(range(R0 + 120_500, R0 + 240_000, 900))
    run(world, driver, live, R0 + 250_000)
    check(world, driver, backlog + live)
    assert driver.aggregator.stats.clock_steps_back == 0


def test_a_step_back_of_the_counters_clock_is_counted_late_never_published_twice() -> None:
    """Not fixed (docs/reliability.md section 5): the counter's own clock a minute back, its
    re-lived minute is ``late``; what is published is still each interval once."""
    world = World(device_steps=[(R0 + 120_200, -HOUR // 60)])  # a minute back
    driver = driver_in(world)
    vehicles = list(range(R0 + 500, R0 + 300_000, 1_000))
    run(world, driver, vehicles, R0 + 310_000)
    stats = driver.aggregator.stats
    assert stats.clock_steps_back == 1
    flows = [r for _, r in world.published if r.measurement == "traffic_flow"]
    assert max(Counter((r.time, r.tags["lane"]) for r in flows).values()) == 1
    counted = sum(r.fields["count"] for _, r in world.published if r.measurement == "traffic_flow")
    assert 55 <= stats.late <= 62  # the minute re-lived, less what fell in the open interval
    assert counted + stats.late + stats.before_start == len(vehicles)


def test_device_clock_is_carried_forward_by_the_monotonic_clock_and_reanchored() -> None:
    clock = DeviceClock()
    assert clock.now(5_000) is None  # no line yet
    assert clock.seen(R0, 5_000) == 0
    assert clock.now(5_000) == R0
    assert clock.now(12_500) == R0 + 7_500
    assert clock.seen(R0 + 7_400, 12_600) == 0  # a little slower: re-anchored, no step
    assert clock.now(13_600) == R0 + 8_400
    assert clock.now(12_000) == R0 + 7_400  # never before its last line
    assert clock.seen(R0 + 8_400 + HOUR, 13_600) == HOUR  # a step of its own clock
    assert clock.seen(R0 + 8_400 - 10_001, 13_600) == -HOUR - 10_001
    clock.reset()
    assert clock.now(20_000) is None
