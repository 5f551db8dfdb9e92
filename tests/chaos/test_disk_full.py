"""Short variant of the disk_full scenario (the long one: ``make chaos``).

The gateway's spool lives on a small tmpfs made for the test (as root). With the link cut,
readings pile up until that disk is full; the spool refuses the rest and the gateway counts
them and keeps running. Space returns, the link heals: every reading the spool took is
stored once, and the readings lost are exactly the ones the gateway counted, one by one for
the emit device. (The refused readings are logged one by one by a wrapper of the gateway's
sink in testkit/gateway_cli.py, test-only: the product counts them, it does not list them.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import disk_full
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

FULL_S = 14


def test_a_full_disk_loses_exactly_what_it_counts_and_the_backlog_drains_after(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    link = Link(keepalive=5, spool_fs_kib=8192, alerts_after_s=3)
    with chaos_rig(tmp_path, influx, influx_db, "d", link) as rig:
        outcome = disk_full(rig, FULL_S)
        log = rig.gateway_log.read_text()
    # Said once in a while, in the operator's terms; never a crash.
    assert "free disk space?" in log and "Traceback" not in log
    print(outcome.all_figures())
    f, t = outcome.figures, outcome.tally
    # The disk did fill: readings were refused, and only while it was full.
    assert f["refused_while_full"] > 0 and f["refused_after_space_back"] == 0
    assert t.emit_refused > 0 and t.emit_refused_stored == 0
    # What was lost is exactly what the gateway counted (its status), nothing else.
    assert t.refused == f["spool_errors"]
    assert t.dropped == 0 and t.waiting == 0
    assert (t.lost, t.duplicates) == (0, 0), t
    assert t.stored == t.taken
    assert t.emit_lost == [] and t.emit_stored + t.emit_refused == t.emit_taken
    # Alerts (``alerts run`` beside, telling a loopback webhook): each expected one once.
    assert f["alerts_expected"] >= 2 and f["alerts_delivered"] == f["alerts_expected"], f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
