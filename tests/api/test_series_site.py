"""GET /series?site=: a site of the registry names its gateway; the answers of the site and of
its gateway are the same. A site with several gateways needs the gateway named; an unknown
site, a gateway of another site, a site without gateway: 400 naming the parameter; without a
registry: 503 saying how to give one."""

from __future__ import annotations

import warnings
from pathlib import Path

from api.access import open_reads
from api.app import create_app
from registry import db
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from testkit.points import GW1, GW2, T0, air
from testkit.sites import REGISTRY, import_registry

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

WINDOW = "start=2025-11-29T00:00:00%2B07:00&end=2025-12-03T00:00:00%2B07:00"
AIR = f"/series?measurement=air_quality&field=pm25&{WINDOW}"
SECOND = '\n[[gateways]]\nid = "srl-pasar-02"\nsite = "pasar-sarolangun"\n'


def test_a_site_names_its_gateway(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    store.write(
        [air(GW1, T0, pm25=10.0), air(GW2, T0, pm25=20.0), air(GW2, T0 + 60_000, pm25=21.0)]
    )
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    import_registry(engine, tmp_path / "registry.toml", REGISTRY + SECOND)
    api = TestClient(create_app(store, access=open_reads(), registry=RegistryReader(engine)))
    by_site = api.get(f"{AIR}&site=pauh").json()
    by_gateway = api.get(f"{AIR}&gateway={GW2}").json()
    assert [p["value"] for p in by_site["points"]] == [20.0, 21.0]
    assert by_site["points"] == by_gateway["points"] and by_site["gateway"] == GW2
    two = api.get(f"{AIR}&site=pasar-sarolangun")
    assert two.status_code == 400 and two.json()["error"] == "invalid_parameter"
    assert "site='pasar-sarolangun'" in two.json()["message"]
    assert f"{GW1}, srl-pasar-02: add gateway=" in two.json()["message"]
    named = api.get(f"{AIR}&site=pasar-sarolangun&gateway={GW1}").json()
    assert [p["value"] for p in named["points"]] == [10.0]
    other = api.get(f"{AIR}&site=pauh&gateway={GW1}")
    assert other.status_code == 400 and f"gateway='{GW1}'" in other.json()["message"]
    for site, words in (
        ("nowhere", "no such site"),
        ("singkut", "it has none"),
        ("BAD", "site id"),
    ):
        r = api.get(f"{AIR}&site={site}")
        assert r.status_code == 400 and words in r.json()["message"], r.json()
    engine.dispose()
    bare = TestClient(create_app(store, access=open_reads()))
    r = bare.get(f"{AIR}&site=pauh")
    assert r.status_code == 503 and r.json()["error"] == "registry_unavailable"
    store.close()
