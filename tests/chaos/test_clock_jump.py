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
(``Tally.overwritten``, from the recorder's deliveries), nothing lost.

The traffic counter's readings carry the counter's own clock, which is right all along: its
intervals are closed by that clock carried forward with the monotonic clock
(gateway/devices/traffic_counter/device_clock.py), so the gateway clock's hour forward closes
none of them (no zero counts in the skipped hour, ``points_skipped`` 0) and every vehicle of the
simulator's ground truth is counted once, in the interval of its time.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from simulators.truth import read_truth
from testkit.chaos.rig import ChaosRig, Link, chaos_rig
from testkit.chaos.scenarios import clock_jump
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

PHASE_S = 8
COUNTER = "cnt1"  # the rig's traffic counter
INTERVAL_MS = 5_000  # its interval in the rig


def counter_started_ms(log: str) -> int:
    """When the gateway's counter device came up (its log's time), ms."""
    found = re.search(rf"^(\S+) INFO \S+: device {COUNTER}: ok", log, re.MULTILINE)
    assert found, f"no 'device {COUNTER}: ok' in the gateway's log"
    return int(datetime.fromisoformat(found[1]).timestamp() * 1000)


def vehicles_per_interval(rig: ChaosRig, since_ms: int) -> tuple[Counter[int], Counter[int]]:
    """(truth, stored): the counter's vehicles per interval start, from the simulator's ground
    truth from the interval in which the gateway's counter device came up (*since_ms*; the
    emulated counter counts from the rig's start, which a slow start-up can put an interval
    or more earlier) until the gateway stopped (the emulated counter goes on counting), and
    from the stored ``traffic_flow`` counts (all lanes and directions)."""
    truth: Counter[int] = Counter()
    from_ms = since_ms - since_ms % INTERVAL_MS
    until_ms = rig.gateway_stopped_at * 1000
    for line in read_truth(rig.truth):
        if line["kind"] != "vehicle" or not from_ms <= line["time"] < until_ms:
            continue
        if line["device"] == f"{rig.gateway}/{COUNTER}":
            truth[line["time"] - line["time"] % INTERVAL_MS] += 1
    stored: Counter[int] = Counter()
    for p in rig.store.points("traffic_flow", rig.gateway):
        if p.tags.get("sensor") == COUNTER:
            stored[p.time_ms] += int(p.fields["count"])
    return truth, stored


def test_clock_jumps_forward_and_back_readings_keep_the_clocks_times_none_lost(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    with chaos_rig(tmp_path, influx, influx_db, "c", Link(keepalive=5, alerts_after_s=3)) as rig:
        outcome = clock_jump(rig, PHASE_S)
        log = rig.gateway_log.read_text()
        truth, stored = vehicles_per_interval(rig, counter_started_ms(log))
    print(outcome.all_figures(), *outcome.tally.overwritten, sep="\n")
    assert "Traceback" not in log
    f, t = outcome.figures, outcome.tally
    # Readings taken in each phase carry that phase's clock, and only that.
    assert f["points_forward"] >= PHASE_S and f["points_back"] >= PHASE_S
    assert f["points_misplaced"] == 0
    assert f["points_skipped"] == 0  # no zero counts for the hour the gateway clock skipped
    assert f["points_counter_clock"] > 0
    # Every vehicle counted once, in its interval: the published intervals follow each other
    # without a gap, each with the ground truth's count.
    starts = sorted(stored)
    assert starts == list(range(starts[0], starts[-1] + INTERVAL_MS, INTERVAL_MS)), starts
    assert {s: stored[s] for s in starts} == {s: truth[s] for s in starts}
    # Not published: the first (partial: the device came up in it) and those still open at
    # the stop: the last or, within the grace after an interval's end, the last two.
    edges = {min(truth), *sorted(truth)[-2:]}
    assert set(truth) - set(starts) <= edges, (sorted(truth), starts)
    assert len(starts) * INTERVAL_MS >= f["fault_s"] * 1000 - 3 * INTERVAL_MS, starts
    assert t.dropped == 0 and t.waiting == 0
    assert t.overwritten == [] and t.lost == 0 and t.duplicates == 0, t
    assert t.stored == t.taken
    assert f["stamps_moved"] >= 0  # the gateway reported how many it moved
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken
    # Alerts (``alerts run`` beside): offline at the stop and e1's count, each once. Before
    # the rules took a point stamped ahead at its arrival, the offline never came (the
    # gateway's statuses of the hour ahead made every later one history).
    assert f["alerts_expected"] >= 2 and f["alerts_delivered"] == f["alerts_expected"], f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
