"""Retention policies and rollups against a real InfluxDB 1.6: what ``store setup`` makes,
and the rollup queries themselves, run by hand for a past window (continuous queries only run
on InfluxDB's schedule)."""

from __future__ import annotations

import pytest

from store import retention, setup
from store.influx import InfluxStore
from store.retention import RetentionSettings
from telemetry.mapping import Point
from testkit.influx_setup import setup_database
from testkit.ingest import HOUR, MIN, RECENT
from testkit.services import Influx

pytestmark = pytest.mark.services


def _rps(influx: Influx, db: str) -> dict[str, list]:
    (result,) = influx.query(f'SHOW RETENTION POLICIES ON "{db}"')["results"]
    return {row[0]: row[1:] for row in result["series"][0]["values"]}


def _cqs(influx: Influx, db: str) -> dict[str, str]:
    (result,) = influx.query("SHOW CONTINUOUS QUERIES")["results"]
    return {
        name: query
        for series in result["series"]
        if series["name"] == db
        for name, query in series.get("values", [])
    }


def test_setup_creates_policies_and_continuous_queries_once(influx: Influx, influx_db: str) -> None:
    store = InfluxStore(influx.url, influx_db)
    setup_database(influx.url, influx_db)
    rps = _rps(influx, influx_db)
    assert rps["raw"] == ["2160h0m0s", "24h0m0s", 1, True]  # 90 days, the default policy
    assert rps["rollup_1m"][0] == "17520h0m0s" and rps["rollup_1m"][3] is False
    assert rps["rollup_1h"][0] == "0s"  # forever
    cqs = _cqs(influx, influx_db)
    assert set(cqs) == {"rollup_1m", "rollup_1m_sum", "rollup_1h", "rollup_1h_sum"}
    assert "RESAMPLE EVERY 1m FOR 10m" in cqs["rollup_1m"]
    assert f"INTO {influx_db}.rollup_1h.:MEASUREMENT FROM {influx_db}.raw./.*/" in cqs["rollup_1h"]
    # again: nothing to do; then with other settings: altered, CQs recreated
    assert setup.run(store, RetentionSettings(), []) == []
    changed = RetentionSettings(raw="30d", resample_1m="5m")
    ran = setup.run(store, changed, [])
    assert [s.shown.split(" ON ")[0] for s in ran] == [
        'ALTER RETENTION POLICY "raw"',
        'DROP CONTINUOUS QUERY "rollup_1m"',
        'CREATE CONTINUOUS QUERY "rollup_1m"',
        'DROP CONTINUOUS QUERY "rollup_1m_sum"',
        'CREATE CONTINUOUS QUERY "rollup_1m_sum"',
    ]
    assert _rps(influx, influx_db)["raw"][0] == "720h0m0s"
    assert "FOR 5m" in _cqs(influx, influx_db)["rollup_1m"]
    store.close()


def test_rollup_queries_aggregate_a_past_window(influx: Influx, influx_db: str) -> None:
    store = InfluxStore(influx.url, influx_db)
    setup_database(influx.url, influx_db)
    t = RECENT - HOUR  # a whole past hour
    points = []
    for i in range(120):  # two hours of a reading every minute, on lane 1
        points.append(
            Point(
                "traffic",
                {"gateway": "gw-r", "sensor": "cnt1", "lane": "1"},
                {"count": i % 4, "speed_mean": 40.0 + i % 3},
                t + i * MIN,
            )
        )
        points.append(
            Point("weather", {"gateway": "gw-r", "sensor": "wx"}, {"rain": 0.5}, t + i * MIN)
        )
    store.write(points)
    written = retention.backfill(store, t, t + 2 * HOUR)
    assert written == 2 * 120 + 2 * 2  # per minute and per hour, for both measurements

    def rows(rp: str, measurement: str) -> list[dict]:
        (result,) = store.execute(f'SELECT * FROM "{rp}"."{measurement}" GROUP BY *')
        (series,) = result["series"]
        assert series["tags"]["gateway"] == "gw-r"
        return [dict(zip(series["columns"], v, strict=True)) for v in series["values"]]

    minute = rows("rollup_1m", "traffic")
    assert len(minute) == 120
    assert minute[5]["time"] == t + 5 * MIN
    assert (minute[5]["sum_count"], minute[5]["mean_speed_mean"]) == (1, 42.0)
    hour = rows("rollup_1h", "traffic")
    assert [r["time"] for r in hour] == [t, t + HOUR]
    first = hour[0]
    assert first["count_count"] == 60 and first["sum_count"] == sum(i % 4 for i in range(60))
    assert (first["min_speed_mean"], first["max_speed_mean"]) == (40.0, 42.0)
    assert first["mean_speed_mean"] == pytest.approx(41.0)
    rain = rows("rollup_1h", "weather")
    assert [r["sum_rain"] for r in rain] == [30.0, 30.0]  # summed, not averaged
    assert "sum_speed_mean" not in first  # levels are never summed
    store.close()


def test_backfill_command(influx: Influx, influx_db: str, capsys) -> None:
    from datetime import UTC, datetime

    from jagajalan.cli import main

    store = InfluxStore(influx.url, influx_db)
    setup_database(influx.url, influx_db)
    tags = {"gateway": "gw-b", "sensor": "cnt1", "lane": "2"}
    store.write([Point("traffic", tags, {"count": 3}, RECENT + i * MIN) for i in range(3)])
    start = datetime.fromtimestamp(RECENT / 1000, UTC).isoformat()
    end = datetime.fromtimestamp((RECENT + HOUR) / 1000, UTC).isoformat()
    args = ["store", "backfill", "--influx-url", influx.url, "--influx-db", influx_db]
    assert main([*args, "--start", start, "--end", end]) == 0
    assert "4 rollup points written" in capsys.readouterr().out  # 3 minutes + 1 hour
    (result,) = store.execute('SELECT "sum_count" FROM "rollup_1h"."traffic"')
    assert result["series"][0]["values"] == [[RECENT, 9]]
    assert main([*args, "--start", end, "--end", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "--end = 'yesterday': not a time such as 2026-11-01T00:00:00Z" in err
    store.close()


def test_bad_retention_options_are_config_errors(capsys) -> None:
    from jagajalan.cli import main

    args = ["store", "setup", "--influx-url", "http://127.0.0.1:9", "--raw-retention", "90 days"]
    assert main([*args, "--rollup-1h-retention", "30m"]) == 2
    err = capsys.readouterr().err
    assert "command line: --raw-retention = '90 days': '90 days' is not a duration" in err
    assert "--rollup-1h-retention = '30m': InfluxDB keeps data at least 1h" in err
