"""Rules on the indicators job's measurements: the alerts service reads their new points from
the store (alerts/indicators.py) on both backends, and the hourly ISPU raises the example's
kabut-asap alert through the evaluator into the registry's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.evaluator import Evaluator
from alerts.indicators import IndicatorFeed
from alerts.lifecycle.policy import Lifecycle
from alerts.rules.config import AlertRules
from alerts.rules.engine import Engine
from jagajalan.cli import main
from kernel.config import load_toml
from registry import db
from registry.alerts import list_alerts
from store import Store
from store.sqlite import SQLiteStore
from telemetry.mapping import Point
from testkit import REPO

H = 3_600_000
T0 = 1_764_460_800_000  # 2025-11-30T00:00:00Z


@pytest.fixture(params=["sqlite", pytest.param("influxdb", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "store.sqlite")
    else:
        from store.influx import InfluxStore

        influx, name = request.getfixturevalue("influx"), request.getfixturevalue("influx_db")
        store = InfluxStore(influx.url, name)
    store.ensure()
    yield store
    store.close()


def ispu(hour: int, category: str) -> Point:
    tags = {"gateway": "srl-pasar-01", "sensor": "env1"}
    return Point("jagajalan_ispu_hourly", tags, {"category": category, "ispu": 1.0}, T0 + hour * H)


def test_new_indicator_points_raise_the_ispu_alert(backend: Store, tmp_path: Path) -> None:
    reg = tmp_path / "registry.sqlite3"
    assert main(["registry", "init", "--registry-db", str(reg)]) == 0
    engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
    rules = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
    feed = IndicatorFeed(backend, {r.measurement for r in rules.rules})
    assert feed.measurements == ["jagajalan_ispu_hourly", "jagajalan_traffic"]
    evaluator = Evaluator(Engine(rules), Lifecycle(rules), engine, lambda _s, _n: None)
    backend.write([ispu(0, "sedang"), ispu(1, "tidak_sehat")])
    now = (T0 + 1 * H) / 1000 + 60
    evaluator.observe(feed.poll(now))
    notes = evaluator.evaluate(now)
    assert [(n.kind, n.level, n.contact) for n in notes] == [
        ("raised", "tidak_sehat", "piket-pupr")
    ]
    # The next read brings the next hour only; the earlier points again change nothing.
    backend.write([ispu(2, "sangat_tidak_sehat")])
    now += 3600
    evaluator.observe(feed.poll(now))
    notes = evaluator.evaluate(now)
    assert [(n.kind, n.level, n.severity) for n in notes if n.kind == "changed"] == [
        ("changed", "sangat_tidak_sehat", "critical")
    ]
    (alert,) = list_alerts(engine, state="firing")
    assert (alert.rule, alert.level) == ("kabut-asap", "sangat_tidak_sehat")
    engine.dispose()
