"""The open alerts counted into the store for Grafana (alerts/gauge.py).

The counting itself, pure; then `jagajalan alerts run` as production runs it: a real
Mosquitto, a real registry (SQLite), a real InfluxDB set up by `jagajalan store setup`. A flood
step raises an alert, which the gauge counts as a firing warning; `alerts ack` makes it an
acknowledged one; the Ringkasan Kabupaten dashboard's alert panels, their queries expanded as
Grafana expands them, show 1 and 0 (critical)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from alerts.gauge import SEVERITIES, Gauge, gauge_points
from alerts.lifecycle.policy import Alert
from dashboards.generate import FOLDER
from dashboards.macros import expand
from jagajalan.cli import main
from store.base import StoreUnavailable
from telemetry import topics
from telemetry.mapping import Point
from testkit import REPO, children
from testkit.ingest import Publisher, wait_for
from testkit.services import Influx, mosquitto
from tests.alerts.test_service import RULES, water

GW = "srl-tembesi-01"


def alert(severity: str, state: str = "firing", n: int = 0) -> Alert:
    return Alert(f"r/{GW}/s{n}@0", "r", GW, f"s{n}", "lvl", severity, 1.0, 0.0, state=state)  # type: ignore[arg-type]


def test_every_severity_is_counted_every_time() -> None:
    alerts = [
        alert("warning"),
        alert("warning", "acknowledged", 1),
        alert("critical", n=2),
        alert("critical", "acknowledged", 3),
        alert("critical", n=4),
    ]
    points = gauge_points(alerts, 1_764_489_600_000)
    by = {p.tags["severity"]: p.fields for p in points}
    assert SEVERITIES == ("info", "warning", "critical")
    assert by == {
        "info": {"firing": 0, "acknowledged": 0, "active": 0},
        "warning": {"firing": 1, "acknowledged": 1, "active": 2},
        "critical": {"firing": 2, "acknowledged": 1, "active": 3},
    }
    assert {(p.measurement, p.time_ms) for p in points} == {
        ("jagajalan_alerts_active", 1_764_489_600_000)
    }
    # Nothing open: still a point per severity, so the dashboard's count falls to 0.
    assert [p.fields["active"] for p in gauge_points([], 1)] == [0, 0, 0]


class Refusing:
    def __init__(self) -> None:
        self.tries = 0

    def write(self, points: list[Point]) -> None:
        self.tries += 1
        raise StoreUnavailable("InfluxDB at http://127.0.0.1:9 is not reachable")


def test_a_refused_write_is_counted_never_raised() -> None:
    """A stand-in store (a refusing one is the point); the service keeps evaluating."""
    store = Refusing()
    gauge = Gauge(store)  # type: ignore[arg-type]
    assert gauge.write([alert("warning")], 1_764_489_600.0) is False
    assert gauge.write([], 1_764_489_610.0) is False
    assert (store.tries, gauge.failures) == (2, 2)


def panel_queries() -> dict[str, str]:
    board = json.loads((FOLDER / "ringkasan-kabupaten.json").read_text(encoding="utf-8"))
    wanted = {"Peringatan aktif", "Peringatan kritis"}
    return {p["title"]: p["targets"][0]["query"] for p in board["panels"] if p["title"] in wanted}


def run(influx: Influx, database: str, query: str) -> list[list]:
    r = httpx.get(f"{influx.url}/query", params={"db": database, "q": query, "epoch": "ms"})
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert "error" not in result, (query, result)
    return [row for s in result.get("series", []) for row in s.get("values", [])]


@pytest.mark.services
def test_the_acting_service_writes_what_the_dashboard_shows(influx: Influx, tmp_path: Path) -> None:
    database = f"t_gauge_{uuid.uuid4().hex[:8]}"
    link = ["--influx-url", influx.url, "--influx-db", database]
    assert main(["store", "setup", *link]) == 0
    reg = tmp_path / "registry.sqlite3"
    assert main(["registry", "init", "--registry-db", str(reg)]) == 0
    example = str(REPO / "examples" / "registry.toml")
    assert main(["registry", "import", example, "--registry-db", str(reg)]) == 0
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES, encoding="utf-8")
    log = tmp_path / "alerts.log"
    newest = (
        'SELECT last("firing"), last("acknowledged") FROM "jagajalan_alerts_active" '
        "WHERE \"severity\" = 'warning'"
    )
    try:
        with mosquitto(tmp_path / "mosquitto") as broker:
            argv = [sys.executable, "-m", "jagajalan.cli", "alerts", "run", *link]
            argv += ["--broker-url", broker.url, "--registry-db", str(reg)]
            argv += ["--rules-file", str(rules), "--every", "0.3", "--client-id", "alerts.g"]
            with log.open("ab") as out:
                proc = children.start(argv, stdout=out, stderr=out)
            pub = Publisher(broker.port)
            try:
                wait_for(lambda: "event=alerts_connected" in log.read_text(), 30, "subscribed")
                wait_for(lambda: run(influx, database, newest), 30, "the first counts")
                assert run(influx, database, newest)[0][1:] == [0, 0]  # nothing open yet
                pub.send(topics.readings(GW), water(GW, 0, 25.0))  # siaga: a warning
                wait_for(lambda: run(influx, database, newest)[0][1:] == [1, 0], 30, "one firing")
                ids = _open_ids(reg)
                assert len(ids) == 1, ids
                ack = ["alerts", "ack", ids[0], "--by", "piket-pupr", "--registry-db", str(reg)]
                assert main(ack) == 0
                wait_for(
                    lambda: run(influx, database, newest)[0][1:] == [0, 1],
                    30,
                    "acknowledged",
                )
                now = int(time.time() * 1000)
                shown = {
                    title: run(influx, database, expand(q, now - 600_000, now + 1000))
                    for title, q in panel_queries().items()
                }
                assert [row[1] for row in shown["Peringatan aktif"]] == [1]
                assert [row[1] for row in shown["Peringatan kritis"]] == [0]
            finally:
                pub.close()
                children.stop(proc)
    finally:
        influx.query(f'DROP DATABASE "{database}"')
    text = log.read_text()
    assert "Traceback" not in text and "alerts_gauge_unwritten" not in text, text


def _open_ids(reg: Path) -> list[str]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from registry import db
    from registry.models import AlertRow

    engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AlertRow.id).where(AlertRow.state != "resolved")))
    finally:
        engine.dispose()
