"""``GET /releases``: the registry's desired gateway versions per rollout group (SQLite
registry, written as `jagajalan firmware rollout` writes them) against the versions the
gateways' statuses report (SQLite store, the points ingest writes): a gateway on another
version, one whose newest status is a Last Will (no version) and one never seen are behind;
one on the desired version is not; a gateway whose update to the version was rolled back says
why. Sensor nodes of a profile with a desired firmware (registry sensors of the example
registry) are behind when their gateway reports another firmware, or none. Without a registry
the route answers 503."""

from __future__ import annotations

import datetime as dt
import tomllib
import warnings
from pathlib import Path

from api.access import open_reads
from api.app import create_app
from jagajalan.cli import main
from kernel.times import utc_iso, wib_iso
from registry import db
from registry.desired import set_firmware, set_group
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from telemetry import Status
from telemetry.mapping import status_points
from testkit import REPO
from testkit.points import GW1, GW2, GW3, T0

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

SET = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
EXAMPLE = REPO / "examples" / "registry.toml"


ROLLED_BACK = {
    "version": "0.2.0",
    "result": "rolled_back",
    "reason": "health.not_published",
    "detail": "no published status within 120 s",
    "rollout": "r1",
    "time": T0 - 60_000,
}


def test_releases_list_the_gateways_behind_their_groups_version(tmp_path: Path) -> None:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    db.upgrade(engine)
    sync_example(engine)
    set_firmware(engine, "level-ultrasonic-generic", "WL-2.08", now=SET)
    set_group(engine, "pilot", [GW1], version="0.2.0", counter=7, rollout="r1", now=SET)
    set_group(engine, "Pauh", [GW2, GW3, "gw-never"], version="0.2.0", counter=7, rollout="r1")
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    for status in (
        Status(gateway=GW1, state="online", time=T0, version="0.2.0"),
        Status(
            gateway=GW2,
            state="online",
            time=T0,
            version="0.1.0",
            devices={"wl1": "ok", "wl9": "ok"},
            firmware={"wl1": "WL-2.08", "wl9": "WL-1.00"},  # wl9: not in the registry
            update=ROLLED_BACK,
        ),
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
    groups = [
        (g["group"], g["version"], g["gateways"], g["behind"], g["failed"]) for g in body["groups"]
    ]
    assert groups == [("Pauh", "0.2.0", 3, 3, 1), ("pilot", "0.2.0", 1, 0, 0)]
    assert body["groups"][1]["set_at"] == "2026-12-06T08:00:00.000Z"
    assert [(b["gateway"], b["version"], b["state"]) for b in body["behind"]] == sorted(
        [(GW2, "0.1.0", "online"), (GW3, None, "offline"), ("gw-never", None, None)]
    )
    assert {b["desired"] for b in body["behind"]} == {"0.2.0"}
    updates = {b["gateway"]: b["update"] for b in body["behind"]}
    assert updates[GW3] is None and updates["gw-never"] is None
    assert updates[GW2] == {
        "version": "0.2.0",
        "result": "rolled_back",
        "failed": True,
        "reason": "health.not_published",
        "detail": "no published status within 120 s",
        "rollout": "r1",
        "time": utc_iso(T0 - 60_000),
        "time_wib": wib_iso(T0 - 60_000),
    }
    # Nodes: the example registry's sensors of the profile, against what the statuses report.
    nodes = {(n["gateway"], n["device"]): n for n in body["nodes_behind"]}
    registered = example_sensors("level-ultrasonic-generic")
    assert (GW2, "wl1") in registered and (GW2, "wl1") not in nodes  # reports WL-2.08
    assert set(nodes) == registered - {(GW2, "wl1")}
    assert all(n["firmware"] is None and n["state"] is None for n in nodes.values())
    assert [(f["profile"], f["version"], f["nodes"], f["behind"]) for f in body["firmware"]] == [
        ("level-ultrasonic-generic", "WL-2.08", len(registered), len(registered) - 1)
    ]


def sync_example(engine) -> None:
    """The example registry (examples/registry.toml): its gateways and sensors."""
    assert main(["registry", "import", str(EXAMPLE), "--registry-db", engine.url.database]) == 0


def example_sensors(profile: str) -> set[tuple[str, str]]:
    doc = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return {(s["gateway"], s["id"]) for s in doc["sensors"] if s.get("profile") == profile}
