"""The benchmark's drain-rate window (bench/ingest_rig.py): pure arithmetic on samples of
acknowledged counts; no broker or database needed."""

from __future__ import annotations

from testkit.rates import window_rate


def test_two_workers_are_timed_only_while_both_drain() -> None:
    # worker 1 starts at t=1, worker 2 at t=2; both ack 100/s; worker 1 is done at t=6
    samples = [
        (0.0, [0, 0]),
        (1.0, [0, 0]),
        (2.0, [100, 0]),
        (3.0, [200, 100]),
        (4.0, [300, 200]),
        (5.0, [400, 300]),
        (6.0, [500, 400]),
        (7.0, [500, 500]),
    ]
    # from t=3 (both acked something) to t=6 (worker 1 final): 600 messages in 3 s
    assert window_rate(samples) == 200.0


def test_one_worker_is_timed_from_its_first_to_its_last_acknowledgement() -> None:
    samples = [(0.0, [0]), (1.0, [50]), (2.0, [150]), (3.0, [250]), (4.0, [300])]
    assert window_rate(samples) == 250 / 3


def test_workers_that_never_overlap_are_timed_over_everything() -> None:
    # worker 1 is done before worker 2 starts: no common window, take the whole drain
    samples = [(0.0, [0, 0]), (1.0, [100, 0]), (2.0, [100, 100])]
    assert window_rate(samples) == 100.0
    # and a drain within one sampling step is timed from the sample before it
    assert window_rate([(0.0, [0]), (0.5, [40])]) == 80.0
