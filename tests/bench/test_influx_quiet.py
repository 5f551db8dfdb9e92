"""bench/ingest_compact.py waits for InfluxDB's compactions before each drain and measure
(bench/ingest_rig.influx_quiet): on a real InfluxDB 1.x, the counters it reads exist under
the names it sums, and a quiet server is found quiet after two polls."""

from __future__ import annotations

import httpx

from bench.ingest_rig import compactions_active, count_active, influx_quiet
from testkit.services import Influx


def test_the_counters_it_sums_are_the_ones_influxdb_reports(influx: Influx, influx_db: str) -> None:
    influx.query(f'CREATE DATABASE "{influx_db}"')
    lines = "\n".join(f"probe,site=s{i % 7} value={i} {1764489600000 + i}" for i in range(500))
    r = httpx.post(
        f"{influx.url}/write", params={"db": influx_db, "precision": "ms"}, content=lines
    )
    assert r.status_code == 204, r.text
    stats = httpx.get(f"{influx.url}/debug/vars", trust_env=False).json()
    engines = [e for name, e in stats.items() if name.startswith("tsm1_engine")]
    assert engines, "no tsm1_engine entry in /debug/vars after a write"
    keys = {k for e in engines for k in e["values"] if k.endswith("CompactionsActive")}
    # cache snapshots, the three levels, optimize and full: every kind of compaction
    assert {
        "cacheCompactionsActive",
        "tsmLevel1CompactionsActive",
        "tsmLevel2CompactionsActive",
        "tsmLevel3CompactionsActive",
        "tsmOptimizeCompactionsActive",
        "tsmFullCompactionsActive",
    } <= keys
    # what it counts is those: the server's own document, with two of them running
    engines[0]["values"]["tsmLevel1CompactionsActive"] = 2
    engines[-1]["values"]["cacheCompactionsActive"] += 1
    assert count_active(stats) == sum(
        e["values"][k] for e in engines for k in keys if k in e["values"]
    )
    assert count_active(stats) >= 3


def test_a_quiet_server_is_found_quiet_after_two_polls(influx: Influx) -> None:
    waited = influx_quiet(influx.url, timeout=60, step=0.1)
    assert 0.2 <= waited < 60
    assert compactions_active(influx.url) == 0
