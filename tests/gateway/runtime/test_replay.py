"""The replay scheduler (gateway/runtime/replay.py): token bucket, lanes, the documented rate bound.

Pure: a fake clock drives it, so these tests say nothing about wall-clock speed.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.runtime.replay import Replay, TokenBucket, backlog_slots


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_goes_into_debt_by_one_batch_and_recovers_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, capacity=10, clock=clock)
    assert bucket.ready()
    bucket.take(50)  # a full batch although only 10 tokens were banked
    assert not bucket.ready()
    clock.now += 3.9
    assert not bucket.ready()  # -40 + 39 = -1
    clock.now += 0.2
    assert bucket.ready()
    clock.now += 3600
    assert bucket.ready() and bucket.tokens == 10  # never more than the capacity banked


def test_bucket_refuses_a_nonsense_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0, capacity=1)


def test_replay_lanes_and_finish() -> None:
    clock = Clock()
    replay = Replay(rate=20, clock=clock)
    assert not replay.active and replay.fresh_after() == 0 and not replay.may_send()
    replay.begin(None)  # connected with an empty spool: nothing to replay
    assert not replay.active
    replay.begin(1234)
    assert replay.active and replay.fresh_after() == 1234
    assert replay.may_send()
    replay.took(50)
    assert not replay.may_send()
    clock.now += 2.0
    assert replay.may_send()  # 20 - 50 + 40 > 0
    replay.took(50)
    clock.now += 1.0
    assert replay.finish() == (100, 3.0)
    assert not replay.active and replay.fresh_after() == 0


def test_backlog_slots_leave_one_for_fresh_batches() -> None:
    assert [backlog_slots(n) for n in (1, 2, 4, 10)] == [1, 1, 3, 9]


def simulate(rate: float, batch: int, backlog: int, tick: float) -> list[tuple[float, int]]:
    """Drive Replay as the publisher does (one check per tick, batches while allowed)."""
    clock = Clock()
    replay = Replay(rate, clock=clock)
    replay.begin(backlog)
    sent: list[tuple[float, int]] = []
    left = backlog
    while left > 0:
        while left > 0 and replay.may_send():
            n = min(batch, left)
            replay.took(n)
            sent.append((clock.now, n))
            left -= n
        clock.now += tick
    return sent


@settings(deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=500),
    batch=st.integers(min_value=1, max_value=200),
    backlog=st.integers(min_value=1, max_value=3000),
    tick=st.sampled_from([0.05, 0.1, 0.5]),
)
def test_rate_bound_holds_over_every_window(
    rate: float, batch: int, backlog: int, tick: float
) -> None:
    """Documented: over any T seconds at most rate * (T + 1) + max_batch backlog readings.

    For every pair of sends i <= j: sent(i..j) <= rate * (t_j - t_i + 1) + batch, checked in
    one pass: with S the running total, S_j - rate*t_j - min_i(S_(i-1) - rate*t_i) is the
    largest excess of any window ending at j."""
    sent = simulate(rate, batch, backlog, tick)
    assert sum(n for _, n in sent) == backlog
    total, lowest = 0, math.inf
    for t, n in sent:
        lowest = min(lowest, total - rate * t)  # window starting at this send
        total += n
        assert total - rate * t - lowest <= rate + batch + 1e-6


def test_long_run_rate_is_the_replay_rate() -> None:
    sent = simulate(rate=20, batch=50, backlog=6000, tick=0.5)
    duration = sent[-1][0] - sent[0][0]
    # 6000 readings at 20/s: 300 s, less the one second banked and the last batch's debt.
    assert 6000 / 20 - 4 <= duration <= 6000 / 20
