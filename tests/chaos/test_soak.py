"""Short variant of the soak (the long one: ``make chaos``, 200 gateways for 30 minutes).

20 fleet gateways (``jagajalan simulate fleet``, each its own broker user) and the rig's real
gateway in its namespace publish for 15 s to the real stack: Mosquitto, three shared ingest
workers, InfluxDB, ``analytics run``, ``alerts run`` (a loopback webhook) and ``api run``.
One ingest worker is SIGKILLed and started again, and the broker is restarted (it loads the
shipped ingest gate: without it, readings published before the shared workers subscribe again
reach only the plain subscribers, docs/reliability.md section 5). At the end the fleet
stops (an offline alert per gateway) and the alerts service is SIGKILLed while the webhook
holds one of its requests, then started again. Every reading acknowledged is stored once,
every alert expected is delivered once, and every service's RSS slope is reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.rig import Link, chaos_rig
from testkit.chaos.soak import SoakPlan, fleet_users, soak
from testkit.services import Influx

pytestmark = [pytest.mark.services, pytest.mark.chaos]

GATEWAYS = 20


def test_a_short_soak_with_a_killed_worker_loses_nothing_and_reports_memory(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    plan = SoakPlan(15, gateways=GATEWAYS, rate=0.5, seed=6, faults=2, kinds=("ingest", "broker"))
    plan.settle = 30
    link = Link(keepalive=5, workers=3, alerts_after_s=5, users=fleet_users(GATEWAYS))
    with chaos_rig(tmp_path, influx, influx_db, "sq", link) as rig:
        outcome = soak(rig, plan)
    f = outcome.figures
    print(outcome.all_figures())
    assert f["faults"] == 2, f["fault_log"]
    assert "ingest" in f["fault_log"] and "broker" in f["fault_log"]
    # The fleet: every gateway connected, every acknowledged reading stored once.
    assert f["fleet_gateways"] == GATEWAYS and f["fleet_failed_to_connect"] == 0
    assert f["fleet_acked"] >= GATEWAYS * 15 * 0.5 * 10 * 0.9
    assert (f["fleet_lost"], f["fleet_duplicates"]) == (0, 0), f
    assert f["fleet_gateways_matching"] == GATEWAYS
    # The real gateway beside it.
    t = outcome.tally
    assert t.taken > 0 and (t.lost, t.duplicates) == (0, 0), t
    # Alerts: one per fleet gateway (offline at its stop) and the real gateway's two (offline
    # at its stop, e1's count over the threshold), each once, across the alerts service
    # killed while sending.
    assert f["alerts_expected"] == GATEWAYS + 2
    assert f["alerts_delivered"] == f["alerts_expected"], f
    assert (f["alerts_missing"], f["alerts_unexpected"], f["alerts_duplicates"]) == (0, 0, 0)
    assert f["alerts_service_starts"] == 2 and f["alerts_delivered_at_kill"] < GATEWAYS + 2
    # Memory: a slope and a peak for every service, the API answered throughout.
    services = {"mosquitto", "influxd", "gateway", "fleet", "api", "analytics", "alerts"}
    services |= {"ingest", "ingest1", "ingest2"}
    for name in services:
        assert f[f"rss_peak_mb.{name}"] > 1, name
        assert f[f"rss_slope_mb_h.{name}"] != -1, name
    assert f["api_requests_ok"] > 5 and f["services_exited"] == 0
