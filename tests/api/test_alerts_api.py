"""GET /alerts, POST /alerts/ack and GET /alerts/deliveries over a real registry (SQLite)
holding what the alerts service wrote: keys by role (401 without one, 403 for a viewer's
acknowledgement), an acknowledgement only of a firing alert (404 unknown, 409 otherwise), and
an alert's outbox messages for operators."""

from __future__ import annotations

import datetime as dt
import warnings

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.access import Access, registry_check
from api.app import create_app
from registry.models import AlertRow
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from testkit.alerts import alert_row, telegram_message
from tests.api.test_auth import bearer, made, registry, store  # noqa: F401  (fixtures)

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T = dt.datetime(2026, 1, 12, 8, 0, tzinfo=dt.UTC)
FIRING = "genangan/srl-tembesi-01/wl1@1768204800000"


def seed(engine: Engine) -> None:
    def row(id_: str, state: str, minutes: int) -> AlertRow:
        at = T + dt.timedelta(minutes=minutes)
        return alert_row(id_, at, state=state, gateway="srl-tembesi-01")

    with Session(engine) as session, session.begin():
        session.add_all([row(FIRING, "firing", 10), row("old/srl-tembesi-01/wl1@1", "resolved", 0)])
        key = f"{FIRING}#1:piket-pupr/telegram"
        session.add(telegram_message(key, T, state="sent", attempts=1, sent_at=T))


def client(
    readings: SQLiteStore, engine: Engine, public: frozenset[str] | None = frozenset()
) -> TestClient:
    access = Access(registry_check(engine), engine=engine, public=public)  # type: ignore[arg-type]
    return TestClient(create_app(readings, access=access, registry=RegistryReader(engine)))


def test_alerts_by_role(store, registry, made) -> None:  # noqa: F811
    seed(registry)
    api = client(store, registry)
    assert api.get("/alerts").status_code == 401
    listed = api.get("/alerts", headers=bearer(made["viewer"])).json()
    assert [a["id"] for a in listed] == [FIRING, "old/srl-tembesi-01/wl1@1"]
    assert listed[0]["raised_at"] == "2026-01-12T08:10:00.000Z"
    assert listed[0]["raised_at_wib"] == "2026-01-12T15:10:00.000+07:00"
    firing = api.get("/alerts?state=firing", headers=bearer(made["viewer"])).json()
    assert [a["id"] for a in firing] == [FIRING]
    assert api.get("/alerts?state=gone", headers=bearer(made["viewer"])).status_code == 422
    body = {"alert": FIRING}
    viewer = api.post("/alerts/ack", json=body, headers=bearer(made["viewer"]))
    assert viewer.status_code == 403
    done = api.post("/alerts/ack", json=body, headers=bearer(made["operator"]))
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "operator-key"
    again = api.post("/alerts/ack", json=body, headers=bearer(made["operator"]))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    unknown = api.post("/alerts/ack", json={"alert": "nope"}, headers=bearer(made["admin"]))
    assert unknown.status_code == 404 and "GET /alerts" in unknown.json()["message"]
    (alert,) = api.get("/alerts?state=acknowledged", headers=bearer(made["viewer"])).json()
    assert alert["acknowledged_by"] == "operator-key"
    path = "/alerts/deliveries"
    assert (
        api.get(path, params={"alert": FIRING}, headers=bearer(made["viewer"])).status_code == 403
    )
    (sent,) = api.get(path, params={"alert": FIRING}, headers=bearer(made["operator"])).json()
    assert (sent["channel"], sent["status"], sent["attempts"]) == ("telegram", "sent", 1)
    assert "address" not in sent  # whom it reached is not in the answer
    missing = api.get(path, params={"alert": "nope"}, headers=bearer(made["operator"]))
    assert missing.status_code == 404


def test_alerts_as_open_data_but_never_their_acknowledgement(store, registry, made) -> None:  # noqa: F811
    seed(registry)
    api = client(store, registry, public=frozenset({"alerts"}))
    assert api.get("/alerts").status_code == 200
    assert api.post("/alerts/ack", json={"alert": FIRING}).status_code == 401
    assert api.get("/alerts/deliveries", params={"alert": FIRING}).status_code == 401
