"""A gateway that boots with its clock at 1970 (no real-time clock, NTP not there yet), short
variant (the long one: ``make chaos``).

The decision (gateway/runtime/clock.py, docs/protocol.md section 2): while the clock is before
the software's floor, readings get provisional times and are held in the spool, published
neither with a 1970 time (the contract refuses it) nor with a wrong one; the status says
``clock: "unset"`` and how many are held. When the clock is set, the held readings get their
real times and go out. The clock is the test-only runner's seam (testkit/gateway_cli.py:
``JAGAJALAN_TEST_CLOCK_FILE``), the one the clock_jump scenario uses: the machine's own clock
is not moved.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import clock_unset
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

UNSET_S = 10


def test_a_gateway_booted_at_1970_holds_its_readings_then_sends_them_at_their_real_times(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    link = Link(keepalive=5, clock_offset=-time.time() + 60, alerts_after_s=3)  # 1970 at start
    with chaos_rig(tmp_path, influx, influx_db, "u", link) as rig:
        outcome = clock_unset(rig, UNSET_S)
        log = rig.gateway_log.read_text()
    print(outcome.all_figures())
    assert "Traceback" not in log
    assert "gateway clock is not set" in log and "held reading(s) re-dated" in log
    f, t = outcome.figures, outcome.tally
    # While unset: said so in the status, readings held (more and more), none published.
    assert f["unset_in_status"] == 1 and f["held_grew"] == 1, f
    assert f["stored_while_unset"] == 0, f
    assert f["clock"] == -1  # the status no longer says "unset" once the clock is set
    # Then: every reading stored once, at a time between the gateway's start and now.
    assert t.lost == 0 and t.duplicates == 0 and t.dropped == 0 and t.waiting == 0, t
    assert t.stored == t.taken and t.overwritten == []
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken
    assert f["points_in_time"] >= UNSET_S and f["points_misplaced"] == 0, f
    # Alerts (``alerts run`` beside, telling a loopback webhook): each expected one once.
    assert f["alerts_expected"] >= 2 and f["alerts_delivered"] == f["alerts_expected"], f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
