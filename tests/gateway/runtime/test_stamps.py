"""The stamping rule (gateway/runtime/stamps.py, docs/protocol.md section 2): no two readings
of one series get the same time, each keeps its clock time to within the readings that
already hold the milliseconds after it, and other series are never moved."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from gateway.runtime.stamps import SeriesStamps, series_of
from telemetry.models import Reading

T = 1_764_489_600_000  # 2025-11-30T08:00:00Z


def reading(time: int, sensor: str = "env1", lane: str | None = None) -> Reading:
    tags = {"lane": lane} if lane else {}
    return Reading(
        sensor=sensor, measurement="air_quality", time=time, fields={"pm25": 1.0}, tags=tags
    )


def test_a_clock_stepped_back_onto_aligned_ticks_gets_the_next_free_millisecond() -> None:
    stamps = SeriesStamps()
    before = stamps.stamp([reading(T + s * 1000) for s in range(5)])  # polls at whole seconds
    # The clock steps back 3 s: the driver polls the same whole seconds again.
    after = stamps.stamp([reading(T + s * 1000) for s in range(2, 7)])
    assert [r.time - T for r in before] == [0, 1000, 2000, 3000, 4000]
    assert [r.time - T for r in after] == [2001, 3001, 4001, 5000, 6000]
    assert stamps.moved == 3
    # A third reading at a doubly used second goes past both.
    assert stamps.stamp([reading(T + 2000)])[0].time == T + 2002


def test_other_series_keep_their_times() -> None:
    stamps = SeriesStamps()
    first = [reading(T), reading(T, sensor="env2"), reading(T, lane="1"), reading(T, lane="2")]
    assert [r.time for r in stamps.stamp(first)] == [T] * 4
    assert stamps.moved == 0
    assert stamps.stamp([reading(T, lane="2")])[0].time == T + 1


def test_a_moved_reading_keeps_everything_but_its_time() -> None:
    original = reading(T, lane="3")
    stamps = SeriesStamps()
    stamps.stamp([original])
    (moved,) = stamps.stamp([original])
    assert moved.time == T + 1
    assert moved.model_dump(exclude={"time"}) == original.model_dump(exclude={"time"})
    assert Reading.model_validate(moved.model_dump()) == moved  # still a valid reading


def test_memory_is_bounded_by_the_horizon_and_the_count() -> None:
    stamps = SeriesStamps(horizon_s=10, max_per_series=100)
    stamps.stamp([reading(T + i * 1000) for i in range(50)])
    assert stamps.kept() == 11  # the last 10 s and the time being stamped
    # Older than the horizon behind the time stamped: forgotten, so it is not moved.
    assert stamps.stamp([reading(T)])[0].time == T
    crowded = SeriesStamps(horizon_s=3600, max_per_series=100)
    crowded.stamp([reading(T + i) for i in range(500)])
    assert crowded.kept() == 100


times = st.lists(
    st.tuples(st.integers(0, 3), st.integers(T - 5_000, T + 5_000)), min_size=1, max_size=300
)


@given(times, st.integers(1, 50))
def test_times_unique_per_series_and_never_earlier_than_the_clock(
    taken: list[tuple[int, int]], chunk: int
) -> None:
    """Any order of times (a clock that jumps back and forth), in sink calls of any size."""
    stamps = SeriesStamps()
    readings = [reading(t, sensor=f"s{k}") for k, t in taken]
    out: list[Reading] = []
    for i in range(0, len(readings), chunk):
        out += stamps.stamp(readings[i : i + chunk])
    identities = [(series_of(r), r.time) for r in out]
    assert len(set(identities)) == len(identities)
    for given_r, stamped in zip(readings, out, strict=True):
        assert stamped.sensor == given_r.sensor
        # Moved only past times its series had used: at most one ms per earlier reading.
        assert 0 <= stamped.time - given_r.time <= len(readings)
    assert stamps.moved == sum(a.time != b.time for a, b in zip(readings, out, strict=True))


def test_threads_sharing_the_sink_never_share_a_time() -> None:
    stamps = SeriesStamps()
    out: list[list[Reading]] = [[] for _ in range(4)]

    def work(n: int) -> None:
        for _ in range(200):
            out[n] += stamps.stamp([reading(T)])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stamped = sorted(r.time for part in out for r in part)
    assert stamped == list(range(T, T + 800))
