"""Simulated sites: real-sounding roadside locations in Kabupaten Sarolangun, Jambi.

Coordinates are approximate (town centre about 2.30 S, 102.70 E); they place the gateways
on the map, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Site:
    gateway: str
    name: str
    kecamatan: str
    latitude: float
    longitude: float


SITES: list[Site] = [
    Site("srl-pasar-01", "Jl. Lintas Sumatera, Pasar Sarolangun", "Sarolangun", -2.2985, 102.7045),
    Site("srl-pauh-01", "Jl. Lintas Sarolangun-Pauh, Pauh", "Pauh", -2.1590, 102.8250),
    Site("srl-singkut-01", "Jl. Lintas Sumatera, Singkut", "Singkut", -2.5010, 102.5620),
    Site("srl-mandiangin-01", "Jl. Mandiangin-Sarolangun", "Mandiangin", -2.0830, 103.0170),
    Site("srl-airhitam-01", "Jl. Poros Air Hitam", "Air Hitam", -2.0520, 102.5310),
    Site("srl-tembesi-01", "Jl. Tepian Batang Tembesi", "Sarolangun", -2.3040, 102.6985),
    Site("srl-pelawan-01", "Jl. Lintas Sumatera, Pelawan", "Pelawan", -2.3620, 102.6310),
    Site("srl-limun-01", "Jl. Sarolangun-Limun, Pulau Pandan", "Limun", -2.4290, 102.3520),
    Site(
        "srl-batangasai-01",
        "Jl. Poros Batang Asai, Pasar Pekan Gedang",
        "Batang Asai",
        -2.4850,
        101.9870,
    ),
    Site(
        "srl-bathin8-01",
        "Jl. Sarolangun-Bathin VIII, Limbur Tembesi",
        "Bathin VIII",
        -2.2210,
        102.6130,
    ),
    Site("srl-cermin-01", "Jl. Cermin Nan Gedang", "Cermin Nan Gedang", -2.4760, 102.4470),
]


def site(gateway: str) -> Site:
    for s in SITES:
        if s.gateway == gateway:
            return s
    raise KeyError(
        f"no simulated site for gateway {gateway!r}; known: {[s.gateway for s in SITES]}",
        gateway,
    )
