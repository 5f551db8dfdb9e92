"""``make bench``'s district benchmark (bench/series.py) at a tiny scale, so that its code
paths (loading, the API process, every request it times, the CSV and its RSS) cannot rot:
real influxd, real ``jagajalan api run``, a few gateways and pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.series import Scale, rollup_lines, run, value

pytestmark = pytest.mark.services

TINY = Scale(
    gateways=3,
    raw_hours=2,
    from_midnight=False,  # exactly 2 h of raw points, counted below
    rollup_days=2,
    csv_rows=600,
    page=7,
    pages=4,
    repeats=3,
    paced_seconds=0.5,
)


def test_the_district_bench_runs_at_a_tiny_scale(tmp_path: Path, capsys) -> None:
    figures = run(TINY, tmp_path)
    printed = capsys.readouterr().out
    assert "readings_latest_district_p99" in printed and "(target < 50 ms)" in printed
    assert "series_30d_hourly_gateway_p99" in printed and "(target < 300 ms)" in printed
    assert "series_raw_page_4_vs_page_1" in printed and "(target within 20 %)" in printed
    assert "csv_api_peak_rss" in printed and "(target < 150 MB)" in printed
    assert figures["csv_rows"] == 600
    # rollups of 2 days, raw of 2 h every 30 s, a batch a minute, a status per gateway
    assert figures["district_load_lines"] == 3 * (48 + 240 + 120 + 1)
    assert 0 < figures["csv_api_peak_rss"] < 1024


def test_rollups_of_raw_hours_are_their_exact_aggregates() -> None:
    hour = 1_796_000_400_000 // 3_600_000 * 3_600_000
    (chunk,) = list(rollup_lines(TINY, hour, hour, hour + 3_600_000))
    line = chunk[1]  # gateway 1
    fields = dict(kv.split("=") for kv in line.split(" ")[1].split(","))
    values = [value(0, 1, hour + k * 30_000) for k in range(120)]
    assert float(fields["mean_pm25"]) == pytest.approx(sum(values) / 120)
    assert (float(fields["min_pm25"]), float(fields["max_pm25"])) == (min(values), max(values))
    assert fields["count_pm25"] == "120i"
