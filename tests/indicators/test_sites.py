"""Site parameters from the registry (indicators/sites.py): `analytics backfill` with a real
registry takes each site's capacity and flood ladder from it; the job file's entry for a
gateway overrides what it sets; a registry that cannot be read leaves the parameters read
last. The registry's facts on both databases: tests/registry/test_facts.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from indicators.config import IndicatorsConfig, Site
from indicators.sites import RegistrySites, merged
from jagajalan.cli import main
from registry.facts import SiteFacts
from store.sqlite import SQLiteStore
from tests.indicators.test_job import END, START, write_as_ingest

REGISTRY = """
[[sites]]
id = "{site}"
name = "Jl. Uji"
road = "Jl. Uji"
kecamatan = "Sarolangun"
latitude = -2.3
longitude = 102.7
capacity_smp_per_hour = 1000
[sites.flood]
{ladder}

[[gateways]]
id = "gw-a"
site = "{site}"
"""
ROAD = 'ladder = "road_depth"\nwaspada_cm = 10\nsiaga_cm = 20\nawas_cm = 30'
RIVER = 'ladder = "river_gauge"\nsiaga_3_m = 0.1\nsiaga_2_m = 0.2\nsiaga_1_m = 0.3'


def facts(gateway: str = "gw-a", **changes: object) -> SiteFacts:
    values: dict = dict(
        gateway=gateway,
        site="s",
        name="Jl. Uji",
        kecamatan="Sarolangun",
        latitude=-2.3,
        longitude=102.7,
        capacity_smp_per_hour=1000.0,
        flood=("road_depth", 10.0, 20.0, 30.0),
    )
    return SiteFacts(**(values | changes))


def registry(tmp_path: Path, ladder: str) -> list[str]:
    path = tmp_path / "registry.sqlite3"
    options = ["--registry-db", str(path)]
    doc = tmp_path / "registry.toml"
    doc.write_text(REGISTRY.format(site="uji", ladder=ladder), encoding="utf-8")
    assert main(["registry", "init", *options]) == 0
    assert main(["registry", "import", str(doc), *options]) == 0
    return options


@pytest.mark.parametrize(
    ("ladder", "levels"),
    [(ROAD, ["waspada"] * 12 + ["siaga"] * 24), (RIVER, ["siaga_3"] * 12 + ["siaga_2"] * 24)],
)
def test_backfill_takes_the_site_s_ladder_and_capacity_from_the_registry(
    tmp_path: Path, ladder: str, levels: list[str]
) -> None:
    """The readings of tests/indicators/test_job.py (water at 15 cm, then bouncing at 20 cm;
    576 smp/jam) with a registry site of capacity 1000 smp/jam: without a registry the same
    backfill gives hati_hati / bahaya_motor and DS 576 / 2800 (the file's defaults). A river
    gauge's thresholds in m (0.1 / 0.2 / 0.3) are compared with the readings' cm."""
    store = SQLiteStore(tmp_path / "store.sqlite")
    store.ensure()
    write_as_ingest(store)
    options = ["--sqlite", str(tmp_path / "store.sqlite"), *registry(tmp_path, ladder)]
    assert main(["analytics", "backfill", *options, "--start", START, "--end", END]) == 0
    flood = [p.fields["level"] for p in store.points("jagajalan_flood_status")]
    assert flood == levels
    traffic = store.points("jagajalan_traffic")
    assert traffic[0].fields["flow_smp"] == 576.0
    assert traffic[0].fields["capacity"] == 1000.0
    assert traffic[0].fields["degree_of_saturation"] == 0.576 and traffic[0].fields["los"] == "C"
    store.close()


def test_the_file_s_entry_overrides_what_it_sets() -> None:
    file = IndicatorsConfig(
        sites=[
            Site(gateway="gw-a", road_type="4/2-T", flood_hysteresis=1.0),
            Site(gateway="gw-file-only", capacity=1500),
        ]
    )
    config = merged(file, {"gw-a": facts(), "gw-b": facts("gw-b", flood=None)})
    assert config.capacity("gw-a") == 1000  # the registry's, the file sets none
    assert config.site("gw-a").road_type == "4/2-T"  # the file's
    ladder = config.ladder("gw-a")
    assert ladder.keys == ("normal", "waspada", "siaga", "awas") and ladder.hysteresis == 1.0
    assert config.ladder("gw-b").keys == file.ladder("gw-b").keys  # no ladder: the default
    assert config.capacity("gw-file-only") == 1500
    assert config.capacity("gw-unknown") == file.capacity("gw-unknown")


def test_a_registry_site_that_cannot_hold_is_left_out_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = facts("gw-bad", capacity_smp_per_hour=-5.0)
    with caplog.at_level(logging.WARNING, "indicators"):
        config = merged(IndicatorsConfig(), {"gw-a": facts(), "gw-bad": bad})
    assert [s.gateway for s in config.sites] == ["gw-a"]
    assert "event=indicators_registry_site_refused gateway=gw-bad site=s" in caplog.text


def test_an_unreadable_registry_keeps_the_parameters_read_last(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from sqlalchemy import make_url

    settings = SimpleNamespace(database_url=lambda: make_url(f"sqlite:///{tmp_path}/r.sqlite3"))
    answers: list[object] = [{"gw-a": facts()}, OperationalError("SELECT", {}, Exception("down"))]

    def read(_settings: object) -> dict[str, SiteFacts] | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    source = RegistrySites(IndicatorsConfig(), settings, read)
    first = source()
    assert first.capacity("gw-a") == 1000
    with caplog.at_level(logging.WARNING, "indicators"):
        assert source() is first
    assert "event=indicators_registry_unreadable" in caplog.text
