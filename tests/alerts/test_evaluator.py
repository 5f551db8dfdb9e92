"""The evaluator (alerts/evaluator.py) writes an alert only when it changed: a quiet
evaluation (no event, nothing due) writes no alert row, and a step of one alert writes that one
alert, not every open alert. Counted at the registry's database (SQLite), from the SQL the
evaluations send to it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import event

from alerts.evaluator import Evaluator
from alerts.lifecycle.policy import Lifecycle
from alerts.rules.config import AlertRules
from alerts.rules.engine import Engine
from jagajalan.cli import main
from kernel.config import load_toml
from registry import db
from registry.alerts import list_alerts
from telemetry.mapping import Point
from testkit import REPO

H = 3_600_000
T0 = 1_764_460_800_000  # 2025-11-30T00:00:00Z
WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+alerts\b", re.IGNORECASE)


def ispu(gateway: str, hour: int, category: str) -> Point:
    tags = {"gateway": gateway, "sensor": "env1"}
    return Point("jagajalan_ispu_hourly", tags, {"category": category, "ispu": 1.0}, T0 + hour * H)


def test_only_changed_alerts_are_written(tmp_path: Path) -> None:
    reg = tmp_path / "registry.sqlite3"
    assert main(["registry", "init", "--registry-db", str(reg)]) == 0
    engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
    writes: list[str] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        if WRITE.match(statement):
            rows = len(parameters) if executemany else 1
            writes.extend([statement.split()[0].upper()] * rows)

    event.listen(engine, "before_cursor_execute", record)
    rules = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
    evaluator = Evaluator(Engine(rules), Lifecycle(rules), engine, lambda _s, _n: None)
    now = (T0 + 1 * H) / 1000 + 60
    evaluator.observe(
        [ispu("srl-pasar-01", 1, "tidak_sehat"), ispu("srl-pauh-01", 1, "tidak_sehat")]
    )
    assert len(evaluator.evaluate(now)) == 2
    assert writes == ["INSERT", "INSERT"]
    # Quiet evaluations: nothing happened, nothing due (reminders come after an hour).
    writes.clear()
    for i in range(5):
        assert evaluator.evaluate(now + 1 + i) == []
    assert writes == [], "unchanged alerts were written"
    # One alert steps up: that one is written, the other is not.
    evaluator.observe([ispu("srl-pasar-01", 2, "sangat_tidak_sehat")])
    notes = evaluator.evaluate(now + 10)
    assert [(n.kind, n.gateway) for n in notes] == [("changed", "srl-pasar-01")]
    assert writes == ["UPDATE"]
    levels = {a.gateway: a.level for a in list_alerts(engine, state="firing")}
    assert levels == {"srl-pasar-01": "sangat_tidak_sehat", "srl-pauh-01": "tidak_sehat"}
    # A restart restores the open alerts as they are written: again nothing to write.
    writes.clear()
    again = Evaluator(Engine(rules), Lifecycle(rules), engine, lambda _s, _n: None)
    assert again.restore() == 2
    assert again.evaluate(now + 20) == [] and writes == []
    engine.dispose()
