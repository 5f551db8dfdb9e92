"""Short variant of the clock_jump scenario (the long one: ``make chaos``).

The gateway's clock (the one its readings are stamped with, docs/protocol.md: the
observation time by the gateway clock) jumps an hour forward, then back behind the right time
(re-living times already stamped), then right again. Every reading taken is stored once, each
with the time its clock showed when it was taken. The jump comes from a clock seam of the
test-only runner (testkit/gateway_cli.py: ``JAGAJALAN_TEST_CLOCK_FILE``), not from the
system clock, which the rest of the machine needs.

Known defect (docs/reliability.md, section 5): readings stamped on a whole-second tick
(``air_quality`` of the Modbus sensor ``env1``) taken after the clock stepped back can get
the identity (measurement, tags, time) of a reading taken before, and InfluxDB keeps one of
the two: the earlier is overwritten. This test asserts that every reading lost is such a
collision, named one by one (``Tally.overwritten``, from the recorder's deliveries), and
nothing else; ``make chaos`` counts it as a failure of the scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import clock_jump
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

PHASE_S = 8


def test_clock_jumps_forward_and_back_readings_keep_the_clocks_times_none_lost(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    with chaos_rig(tmp_path, influx, influx_db, "c", Link(keepalive=5)) as rig:
        outcome = clock_jump(rig, PHASE_S)
        log = rig.gateway_log.read_text()
    print(outcome.all_figures(), *outcome.tally.overwritten, sep="\n")
    assert "Traceback" not in log
    f, t = outcome.figures, outcome.tally
    # Readings taken in each phase carry that phase's clock, and only that.
    assert f["points_forward"] >= PHASE_S and f["points_back"] >= PHASE_S
    assert f["points_misplaced"] == 0
    assert t.dropped == 0 and t.waiting == 0
    assert t.duplicates == 0, t
    # Lost only to a re-lived time (the known defect above), each one named.
    assert t.lost == len(t.overwritten), t
    assert all(line.startswith("air_quality env1 ") for line in t.overwritten), t.overwritten
    assert t.stored == t.taken - t.lost
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken
