"""The reference CPU load of bench/ingest_compact.py (bench/cpu_load.py): it uses CPU, never
more than its share over a while, and is gone when its block ends. The share is only checked
from above: on a machine as busy as CI, a load may get less than it asks for, never more."""

from __future__ import annotations

import os
import time

import pytest

from bench.cpu_load import cpu_load
from bench.procfs import cpu_seconds


def test_it_uses_its_share_and_no_more_then_stops() -> None:
    with cpu_load(0.2) as load:
        deadline = time.monotonic() + 60
        while cpu_seconds(load.pid) - load.cpu_at_start < 0.4:  # 2 s at its share
            assert time.monotonic() < deadline, "the load used no CPU in 60 s"
            time.sleep(0.05)
        # CPU seconds are counted in 10 ms ticks; its debt is capped at 20 ms
        assert 0 < load.cores() <= 0.2 + 0.03 / (time.perf_counter() - load.started) + 0.02
        pid = load.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("share", [0, -0.5, 1.5])
def test_a_share_outside_one_core_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share of one core"), cpu_load(share):
        pass
