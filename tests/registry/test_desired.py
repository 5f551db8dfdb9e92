"""Desired gateway versions per rollout group (registry/desired.py) on SQLite and PostgreSQL:
a group's version and members are recorded; commanding a gateway in a later group moves it
there (one desired version per gateway); setting a group again replaces its members."""

from __future__ import annotations

import datetime as dt

from registry import db
from registry.desired import desired, set_group
from tests.registry.conftest import Database

T = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def test_groups_record_versions_and_each_gateway_has_one(database: Database) -> None:
    engine = database.engine
    db.upgrade(engine)
    assert desired(engine) == []
    set_group(engine, "pilot", ["gw-a"], version="1.1.0", counter=4, rollout="r1", now=T)
    set_group(engine, "Pauh", ["gw-b", "gw-c"], version="1.1.0", counter=4, rollout="r1", now=T)
    assert [(d.gateway, d.group, d.version) for d in desired(engine)] == [
        ("gw-a", "pilot", "1.1.0"),
        ("gw-b", "Pauh", "1.1.0"),
        ("gw-c", "Pauh", "1.1.0"),
    ]
    later = T + dt.timedelta(days=1)
    set_group(engine, "pilot", ["gw-b"], version="1.2.0", counter=5, rollout="r2", now=later)
    got = {d.gateway: d for d in desired(engine)}
    assert sorted(got) == ["gw-b", "gw-c"]  # gw-a left the pilot group
    assert (got["gw-b"].group, got["gw-b"].version, got["gw-b"].counter) == ("pilot", "1.2.0", 5)
    assert got["gw-b"].set_at == later and got["gw-b"].rollout == "r2"
    assert (got["gw-c"].group, got["gw-c"].version) == ("Pauh", "1.1.0")
