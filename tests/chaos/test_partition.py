"""Short variant of the partition scenario (the long one: ``make chaos``).

A real gateway (``jagajalan gateway run`` with the emulated Modbus sensor and traffic
counter on pseudo-terminals, plus the test_emit device for exact ground truth) runs in a
network namespace; Mosquitto, ingest, InfluxDB and ``alerts run`` (telling a loopback webhook)
run outside it. The veth link goes down for 20 s while the cabinet keeps taking readings, then
heals: every reading the gateway took is stored, once; the gateway's offline alert (its Last
Will, 7.5 s into the partition) is raised and resolved, and raised again once it stopped at
the end; a threshold on the ``e1`` device's count is raised once; each step delivered once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.leaks import leaks
from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import partition
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

PARTITION_S = 20


def test_partition_then_heal_loses_nothing_stores_nothing_twice(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    with chaos_rig(tmp_path, influx, influx_db, "p", Link(keepalive=5, alerts_after_s=3)) as rig:
        outcome = partition(rig, PARTITION_S)
        logs = rig.log_files()
        secrets = rig.secrets
    # Not one log line of the run (gateway, ingest, broker) holds a password of it.
    assert {p.name for p in logs} >= {"gateway.log", "ingest.log", "mosquitto.log"}
    assert leaks(logs, secrets) == []
    t = outcome.tally
    print(outcome.all_figures())
    # Readings continued during the partition, into the spool...
    assert outcome.figures["max_spool_depth"] >= PARTITION_S * (1 / 0.2) * 0.8
    assert outcome.figures["health_points_during"] >= PARTITION_S / 2 - 3
    # ...and every one of them was stored once the link healed.
    assert t.taken > 0 and t.waiting == 0 and t.dropped == 0
    assert (t.lost, t.duplicates) == (0, 0), t
    assert t.stored == t.taken
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken >= PARTITION_S * 5
    f = outcome.figures
    assert f["alerts_expected"] == 4 and f["alerts_delivered"] == 4, f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
