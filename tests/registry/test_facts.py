"""registry/facts.py on both databases: each gateway's site as the indicators job reads it,
from the example deployment."""

from __future__ import annotations

from jagajalan.cli import main
from registry.facts import gateway_sites
from testkit import REPO
from tests.registry.conftest import Database

EXAMPLE = REPO / "examples" / "registry.toml"


def test_each_gateway_s_site_with_its_capacity_and_ladder(database: Database) -> None:
    assert main(["registry", "init", *database.options]) == 0
    assert main(["registry", "import", str(EXAMPLE), *database.options]) == 0
    sites = gateway_sites(database.engine)
    assert len(sites) == 11  # every gateway of the example; one of its 12 sites has none yet
    assert sites["srl-pasar-01"].site == "pasar-sarolangun"
    pasar = sites["srl-pasar-01"]
    assert pasar.capacity_smp_per_hour == 2300
    assert pasar.flood == ("road_depth", 10.0, 20.0, 30.0)
    # The river gauge's site (pos-duga-tembesi) has no gateway yet: nothing to compute for it.
    assert "pos-duga-tembesi" not in {s.site for s in sites.values()}
    assert sites["srl-singkut-01"].flood is None  # a site without a ladder
