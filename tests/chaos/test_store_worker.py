"""Short variant of the store_worker scenario (the long one: ``make chaos``).

The gateway streams over a good link to three ingest workers sharing the readings
(``--shared-group``); InfluxDB is stopped, one worker is SIGKILLed while it holds messages it
could not store, InfluxDB comes back, the worker is started again under its client id: every
reading the gateway took is stored, once. (InfluxDB here is the session's server: it is
restarted in place, same port and data.) ``alerts run`` (telling a loopback webhook) runs
throughout: its alerts come from the broker, so InfluxDB away loses or doubles none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.scenarios import store_and_worker
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

FAULT_S = 9


def test_store_restart_and_a_killed_shared_worker_lose_nothing_store_nothing_twice(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    link = Link(keepalive=5, workers=3, alerts_after_s=3)
    with chaos_rig(tmp_path, influx, influx_db, "s", link) as rig:
        outcome = store_and_worker(rig, FAULT_S)
        logs = {p.name for p in rig.log_files()}
    print(outcome.all_figures())
    # Three workers ran, and the killed one was started again.
    assert {"ingest.log", "ingest1.log", "ingest1-2.log", "ingest2.log"} <= logs
    assert outcome.figures["store_down_s"] >= FAULT_S * 2 / 3
    t = outcome.tally
    assert t.taken > 0 and t.waiting == 0 and t.dropped == 0
    assert (t.lost, t.duplicates) == (0, 0), t
    assert t.stored == t.taken
    assert t.emit_lost == [] and t.emit_stored == t.emit_taken >= FAULT_S * 5
    # Alerts: offline at the stop, e1's count over the threshold; each once.
    f = outcome.figures
    assert f["alerts_expected"] >= 2 and f["alerts_delivered"] == f["alerts_expected"], f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
