"""``GET /releases``: the registry's desired gateway versions per rollout group (SQLite
registry, written as `jagajalan firmware rollout` writes them) against the versions the
gateways' statuses report (SQLite store, the points ingest writes): a gateway on another
version, one whose newest status is a Last Will (no version) and one never seen are behind;
one on the desired version is not. Without a registry the route answers 503."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

from api.access import open_reads
from api.app import create_app
from registry import db
from registry.desired import set_group
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from telemetry import Status
from telemetry.mapping import status_points
from testkit.points import GW1, GW2, GW3, T0

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

SET = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def test_releases_list_the_gateways_behind_their_groups_version(tmp_path: Path) -> None:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    db.upgrade(engine)
    set_group(engine, "pilot", [GW1], version="0.2.0", counter=7, rollout="r1", now=SET)
    set_group(engine, "Pauh", [GW2, GW3, "gw-never"], version="0.2.0", counter=7, rollout="r1")
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    for status in (
        Status(gateway=GW1, state="online", time=T0, version="0.2.0"),
        Status(gateway=GW2, state="online", time=T0, version="0.1.0"),
        Status(gateway=GW3, state="online", time=T0, version="0.2.0"),
        Status(gateway=GW3, state="offline", time=T0 + 1000),  # its Last Will: no version
    ):
        store.write(status_points(status, status.time or 0))
    try:
        registry = RegistryReader(engine, cache_seconds=0)
        app = create_app(store, access=open_reads(), registry=registry)
        with TestClient(app) as client:
            body = client.get("/releases").json()
        no_registry = create_app(store, access=open_reads())
        with TestClient(no_registry) as client:
            assert client.get("/releases").status_code == 503
    finally:
        store.close()
        engine.dispose()
    assert [(g["group"], g["version"], g["gateways"], g["behind"]) for g in body["groups"]] == [
        ("Pauh", "0.2.0", 3, 3),
        ("pilot", "0.2.0", 1, 0),
    ]
    assert body["groups"][1]["set_at"] == "2026-12-06T08:00:00.000Z"
    assert [(b["gateway"], b["version"], b["state"]) for b in body["behind"]] == sorted(
        [(GW2, "0.1.0", "online"), (GW3, None, "offline"), ("gw-never", None, None)]
    )
    assert {b["desired"] for b in body["behind"]} == {"0.2.0"}
