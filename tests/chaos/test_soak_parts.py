"""The soak's pure parts: the RSS slope (least squares, MB per hour, over one process
instance of the second half), the seeded fault schedule, and /proc's RSS of this process."""

from __future__ import annotations

import os

from testkit.chaos.rss import RssSampler, rss_mb, slope_per_hour
from testkit.chaos.soak import FAULT_KINDS, SoakPlan, schedule


def test_the_slope_is_the_least_squares_line_in_mb_per_hour() -> None:
    # 1 MB more every 60 s, with noise that cancels out: 60 MB/h.
    points = [(60.0 * i, 100.0 + i + (0.5 if i % 2 else -0.5)) for i in range(20)]
    assert abs(slope_per_hour(points) - 60.0) < 1.0  # type: ignore[operator]
    assert slope_per_hour([(0.0, 1.0), (1.0, 2.0)]) is None  # too few points
    assert slope_per_hour([(5.0, 1.0)] * 3) is None  # no time passed


def test_a_restart_in_the_second_half_does_not_count_as_memory_given_back() -> None:
    sampler = RssSampler(dict, every=1.0)
    # pid 1 grows 2 MB/min until 600 s, then the service is restarted as pid 2, flat at 50 MB.
    sampler.samples += [(10.0 * i, "svc", 1, 100 + i / 3) for i in range(60)]
    sampler.samples += [(600 + 10.0 * i, "svc", 2, 50.0) for i in range(61)]
    f = sampler.figures(0.0, 1200.0)
    assert f["rss_slope_mb_h.svc"] == 0.0  # pid 2 covers most of the second half
    assert f["rss_peak_mb.svc"] == round(100 + 59 / 3, 1) and f["rss_last_mb.svc"] == 50.0


def test_the_faults_come_at_seeded_random_times_each_kind_at_least_once() -> None:
    plan = SoakPlan(1800, faults=8, seed=15)
    faults = schedule(plan)
    assert faults == schedule(SoakPlan(1800, faults=8, seed=15))  # the seed decides
    assert faults != schedule(SoakPlan(1800, faults=8, seed=16))
    assert {k for _, k in faults} == set(FAULT_KINDS) and len(faults) == 8
    assert all(180 <= t <= 1440 for t, _ in faults) and faults == sorted(faults)
    assert [k for _, k in schedule(SoakPlan(30, faults=1, kinds=("ingest",)))] == ["ingest"]


def test_the_rss_of_a_live_process_and_of_a_gone_one() -> None:
    assert 5 < rss_mb(os.getpid()) < 4096  # type: ignore[operator]
    assert rss_mb(2**22 + 1) is None  # above pid_max's default: no such process
