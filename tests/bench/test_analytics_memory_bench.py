"""``make bench``'s memory benchmark of the indicators job (bench/analytics_memory.py) at a
tiny scale, so that its code paths cannot rot: real influxd, a real ``jagajalan analytics run``
on the data clock, its RSS sampled over a few passes."""

from __future__ import annotations

import pytest

from bench.analytics_memory import Scale, lines, readings_per_pass, run

pytestmark = pytest.mark.services

TINY = Scale(gateways=2, air_hours=27, other_hours=4, seconds=4)


def test_the_lines_are_the_district_the_figures_count() -> None:
    body = lines(TINY, 1_764_460_800_000)
    assert len(body) == 2 * (27 * 60 + 2 * 4 * 60)
    assert sum(line.startswith("air_quality,") for line in body) == 2 * 27 * 60
    assert readings_per_pass(TINY) == 2 * (27 * 60 + 2 * 3 * 60)


def test_the_analytics_memory_bench_runs_at_a_tiny_scale() -> None:
    figures = run(TINY)
    assert figures["readings_stored"] == 2 * (27 * 60 + 2 * 4 * 60)
    assert figures["passes"] >= 2
    assert figures["points_written_per_pass"] > 0  # the passes computed from what they read
    assert 10 < figures["rss_after_first_pass_mb"] <= figures["peak_rss_mb"] < 1024
    assert figures["peak_rss_bytes_per_reading_read"] > 0
