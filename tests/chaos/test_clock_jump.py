"""Short variant of the clock_jump scenario (the long one: ``make chaos``).

The gateway's clock (the one its readings are stamped with, docs/protocol.md: the
observation time by the gateway clock) jumps an hour forward, then back behind the right time
(re-living times already stamped), then right again. Every reading taken is stored once, each
with the time its clock showed when it was taken. The jump comes from a clock seam of the
test-only runner (testkit/gateway_cli.py: ``JAGAJALAN_TEST_CLOCK_FILE``), not from the
system clock, which the rest of the machine needs.

After the step back the Modbus sensor ``env1``, polled on whole-second ticks, re-lives the
very milliseconds it stamped before; the gateway's stamping rule (gateway/runtime/stamps.py,
docs/protocol.md section 2) moves such a reading 1 ms later, so no two readings share an
identity (measurement, tags, time) and InfluxDB keeps both: nothing overwritten
(``Tally.overwritten``, from the recorder's deliveries), nothing lost. The zero-count traffic
intervals that the forward jump closed are counted apart (``points_skipped``).
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
    assert f["points_skipped"] > 0  # the hour the clock skipped, closed as zero intervals
    assert t.dropped == 0 and t.waiting == 0
    assert t.overwritten == [] and t.lost == 0 and t.duplicates == 0, t
    assert t.stored == t.taken
    assert f["stamps_moved"] >= 0  # the gateway reported how many it moved
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken
