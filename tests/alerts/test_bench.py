"""bench/alerts.py at a tiny size, so the benchmark cannot rot: every alert raised reaches
the webhook and the figures are printed (the 500-gateway run is `make bench`)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.services


def test_the_alerts_bench_runs_small(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import alerts

    monkeypatch.setenv("BENCH_ALERTS_GATEWAYS", "10")
    monkeypatch.setenv("BENCH_ALERTS_DURATION", "12")
    monkeypatch.setenv("BENCH_ALERTS_STEPS", "3")
    alerts.main()
    lines = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["alerts_raised"] == "3" and lines["alerts_at_webhook"] == "3"
    assert float(lines["alerts_publish_to_webhook_p99_s"].split()[0]) < 30
