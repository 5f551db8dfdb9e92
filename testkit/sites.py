"""A small registry of sites for the API's tests: four sites (a road-depth ladder with GW1, a
site with GW2 and no ladder, a river gauge with :data:`GAUGE`, a site without gateway) and
:func:`import_registry`, which migrates a registry database and imports a document into it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from kernel.config import load_toml
from registry import db, document, sync
from testkit.points import GW1, GW2

GAUGE = "srl-gauge-01"
REGISTRY = f"""
[[sites]]
id = "pasar-sarolangun"
name = "Jl. Lintas Sumatera, Pasar Sarolangun"
road = "Jl. Lintas Sumatera"
segment = "Pasar Sarolangun"
kecamatan = "Sarolangun"
latitude = -2.2985
longitude = 102.7045
road_type = "arteri_primer"
capacity_smp_per_hour = 2300
[sites.flood]
ladder = "road_depth"
waspada_cm = 10
siaga_cm = 20
awas_cm = 30

[[sites]]
id = "pauh"
name = "Jl. Lintas Sarolangun-Pauh, Pauh"
road = "Jl. Lintas Sarolangun-Pauh"
kecamatan = "Pauh"
latitude = -2.159
longitude = 102.825

[[sites]]
id = "pos-duga-tembesi"
name = "Pos duga air Batang Tembesi"
road = "Jl. Tepian Batang Tembesi"
kecamatan = "Sarolangun"
latitude = -2.3015
longitude = 102.696
[sites.flood]
ladder = "river_gauge"
siaga_3_m = 9.5
siaga_2_m = 10.5
siaga_1_m = 11.5

[[sites]]
id = "singkut"
name = "Jl. Lintas Sumatera, Singkut"
road = "Jl. Lintas Sumatera"
kecamatan = "Singkut"
latitude = -2.501
longitude = 102.562

[[gateways]]
id = "{GW1}"
site = "pasar-sarolangun"

[[gateways]]
id = "{GW2}"
site = "pauh"

[[gateways]]
id = "{GAUGE}"
site = "pos-duga-tembesi"

[[sensors]]
gateway = "{GW1}"
id = "wl1"
device = "modbus"
profile = "ultrasonic-level"

[[sensors]]
gateway = "{GW1}"
id = "cnt1"
device = "traffic_counter"
"""


def import_registry(engine: Engine, path: Path, body: str = REGISTRY) -> None:
    path.write_text(body)
    doc = load_toml(document.RegistryDoc, path)
    document.check(doc, str(path))
    db.upgrade(engine)
    sync.import_rows(engine, document.to_rows(doc))
