"""Short variant of the bad cellular link (the long one: ``make chaos``).

The gateway's link (see tests/chaos/test_partition.py for the rig) drops 30 % of the packets
each way (nftables ``numgen random`` in the namespace), its uplink is capped at 64 kbit/s
(``tbf``), and every byte is delayed by a relay (latency with jitter: this kernel has no
netem). With the compact encoding the gateway keeps up, and nothing is lost or stored twice.
``alerts run`` beside it raises what the gateway's statuses call for: an offline spell the
lossy link caused (if the broker published one), e1's count, and offline at the stop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.leaks import leaks
from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import bad_link
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

BAD_S = 40


def test_bad_cellular_link_keeps_up_and_loses_nothing(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    link = Link(keepalive=10, delay=0.5, jitter=0.2, alerts_after_s=5)
    with chaos_rig(tmp_path, influx, influx_db, "b", link) as rig:
        # The faults are really in place while the scenario runs (checked, not assumed).
        rig.ns.shape(64)
        rig.ns.lossy(30)
        assert "numgen random mod 100 < 30 counter" in rig.ns.nft_ruleset()
        assert "rate 64Kbit" in rig.ns.qdisc()
        rig.ns.lossy(0)
        rig.ns.shape(None)
        outcome = bad_link(rig, BAD_S, loss=30, kbit=64)
        logs = rig.log_files()
        secrets = rig.secrets
    # Not one log line of the run (gateway, ingest, broker) holds a password of it.
    assert {p.name for p in logs} >= {"gateway.log", "ingest.log", "mosquitto.log"}
    assert leaks(logs, secrets) == []
    t = outcome.tally
    print(outcome.all_figures())
    assert t.taken > 0 and t.waiting == 0 and t.dropped == 0
    assert (t.lost, t.duplicates) == (0, 0), t
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken >= BAD_S * 5
    f = outcome.figures
    # The faults acted: packets were dropped, everything went through the shaper and relay...
    assert f["nft_dropped_packets"] > 0 and f["tbf_sent_bytes"] > 0, f
    assert f["mqtt_connections"] >= 1, f
    assert f["uplink_bytes_per_s"] <= 64_000 / 8, f
    # ...and the gateway kept up: nothing waited long in its spool.
    assert f["max_spool_oldest_age_s"] < 0.75 * BAD_S, f
    # Alerts: at least e1's count and offline at the stop; every spell's alerts as expected.
    assert f["alerts_expected"] >= 2 and f["alerts_missing"] == 0, f
    assert (f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0), f
    assert f["alerts_delivered"] >= f["alerts_expected"], f
    assert f["alerts_delivered"] <= f["alerts_expected"] + f["alerts_either_way"], f
