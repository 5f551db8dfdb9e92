"""Rollout groups from a real registry (SQLite, the test kit's Sarolangun sites imported as an
admin would): pilot first, then the kecamatan in the order asked, then the others; names the
registry does not know are refused, naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.rollout.groups import UnknownGroup, groups_by_kecamatan
from registry import db
from registry.read import RegistryReader
from testkit.sites import import_registry


@pytest.fixture
def sites(tmp_path: Path):
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml")
    yield RegistryReader(engine, cache_seconds=0).sites()
    engine.dispose()


def test_groups_follow_the_order_asked_and_cover_every_gateway_once(sites) -> None:
    """The kit's registry: Sarolangun has srl-pasar-01 and srl-gauge-01, Pauh srl-pauh-01,
    Singkut no gateway."""
    groups = groups_by_kecamatan(sites, order=["Pauh"], pilot=["srl-gauge-01"])
    assert [(g.name, g.gateways) for g in groups] == [
        ("pilot", ("srl-gauge-01",)),
        ("Pauh", ("srl-pauh-01",)),
        ("Sarolangun", ("srl-pasar-01",)),
    ]
    plain = groups_by_kecamatan(sites)
    assert [(g.name, g.gateways) for g in plain] == [
        ("Pauh", ("srl-pauh-01",)),
        ("Sarolangun", ("srl-gauge-01", "srl-pasar-01")),
    ]


def test_unknown_names_are_refused_naming_them(sites) -> None:
    with pytest.raises(UnknownGroup, match="gw-nowhere"):
        groups_by_kecamatan(sites, pilot=["gw-nowhere"])
    with pytest.raises(UnknownGroup, match="Atlantis"):
        groups_by_kecamatan(sites, order=["Atlantis"])
