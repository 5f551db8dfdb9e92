"""examples/registry.toml: valid, consistent with the simulated sites, and round-trips through
both databases (import, export, equal; importing again changes nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.devices import DRIVERS
from jagajalan.cli import main
from kernel.config import load_toml
from registry import db
from registry.document import DEVICES, RegistryDoc, check
from simulators.sites import SITES
from testkit import REPO
from tests.registry.conftest import Database

EXAMPLE = REPO / "examples" / "registry.toml"
PROFILES = REPO / "gateway" / "devices" / "modbus" / "profiles"


def load(path: Path) -> RegistryDoc:
    doc = load_toml(RegistryDoc, path)
    check(doc, str(path))
    return doc


def by_id(doc: RegistryDoc) -> dict[str, dict]:
    """The document's tables keyed by id, so that the order of the file does not matter."""
    return {
        "sites": {s.id: s for s in doc.sites},
        "gateways": {g.id: g for g in doc.gateways},
        "sensors": {(s.gateway, s.id): s for s in doc.sensors},
        "contacts": {c.id: c for c in doc.contacts},
    }


def test_the_example_is_the_simulated_deployment() -> None:
    doc = load(EXAMPLE)
    sites = {s.id: s for s in doc.sites}
    gateways = {g.id: g for g in doc.gateways}
    for sim in SITES:
        site = sites[gateways[sim.gateway].site]
        assert (site.name, site.kecamatan) == (sim.name, sim.kecamatan), sim.gateway
        assert (site.latitude, site.longitude) == (sim.latitude, sim.longitude), sim.gateway
    assert set(gateways) == {s.gateway for s in SITES}
    assert {"road_depth", "river_gauge"} == {s.flood.ladder for s in doc.sites if s.flood}
    assert all(-2.8 < s.latitude < -1.7 and 101.8 < s.longitude < 103.2 for s in doc.sites)
    for sensor in doc.sensors:
        if sensor.profile is not None:
            assert (PROFILES / f"{sensor.profile}.toml").is_file(), sensor.profile


def test_the_registry_knows_the_gateways_device_types() -> None:
    assert set(DEVICES) == set(DRIVERS)


def test_the_example_round_trips_through_the_database(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = database.options
    assert main(["registry", "init", *opts]) == 0
    assert main(["registry", "import", str(EXAMPLE), *opts, "--lang", "en"]) == 0
    first = capsys.readouterr().out
    assert "Sites: 12 added, 0 changed, 0 removed, 0 unchanged" in first
    assert "Sensors: 40 added" in first
    exported = tmp_path / "exported.toml"
    assert main(["registry", "export", str(exported), *opts]) == 0
    assert by_id(load(exported)) == by_id(load(EXAMPLE))

    capsys.readouterr()
    assert main(["registry", "import", str(EXAMPLE), *opts]) == 0
    again = capsys.readouterr().out
    assert "Lokasi: 0 baru, 0 berubah, 0 dihapus, 12 tetap" in again
    assert "tidak ada yang diubah" in again
    assert main(["registry", "import", str(exported), *opts, "--lang", "en"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    again_exported = tmp_path / "again.toml"
    assert main(["registry", "export", str(again_exported), *opts]) == 0
    assert again_exported.read_text() == exported.read_text()


def test_the_example_round_trips_through_csv(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = [*database.options, "--lang", "en"]
    assert main(["registry", "init", *opts]) == 0
    assert main(["registry", "import", str(EXAMPLE), *opts]) == 0
    folder = tmp_path / "csv"
    assert main(["registry", "export", str(folder), "--format", "csv", *opts]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "contacts.csv",
        "gateways.csv",
        "sensors.csv",
        "sites.csv",
    ]
    assert len((folder / "sensors.csv").read_text().splitlines()) == 1 + 40
    capsys.readouterr()
    assert main(["registry", "import", str(folder), "--prune", *opts]) == 0
    out = capsys.readouterr().out
    assert "Sites: 0 added, 0 changed, 0 removed, 12 unchanged" in out
    assert "nothing changed" in out

    db.downgrade(database.engine, "base")  # an empty registry, filled from the CSV files
    assert main(["registry", "init", *opts]) == 0
    assert main(["registry", "import", str(folder), *opts]) == 0
    assert "Sensors: 40 added" in capsys.readouterr().out
    exported = tmp_path / "exported.toml"
    assert main(["registry", "export", str(exported), *opts]) == 0
    assert by_id(load(exported)) == by_id(load(EXAMPLE))
