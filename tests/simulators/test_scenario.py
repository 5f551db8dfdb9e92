"""The scenario engine: determinism, the clock, traffic shape, weather, files and errors.

Everything here is pure computation on real scenario files (no fakes); the accelerated runs
against a real clock are in tests/simulators/test_scenario_expect.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analytics import ispu
from kernel.config import ConfigError
from simulators.scenario.config import SCENARIO_DIR, shipped
from simulators.scenario.engine import Scenario, ScenarioClock
from simulators.scenario.physics import wib_hour
from simulators.scenario.run import ScenarioRunner
from simulators.truth import TruthWriter, read_truth

SHIPPED = ["haze_episode", "normal_day", "rainy_season_flood", "rush_hour_congestion"]


def _truth(tmp: Path, name: str, scenario: Scenario, **kw) -> bytes:
    path = tmp / name
    writer = TruthWriter(path)
    ScenarioRunner(scenario, truth=writer, **kw).run()
    writer.close()
    return path.read_bytes()


def test_shipped_scenarios_load_and_are_documented() -> None:
    assert set(SHIPPED) <= set(shipped())
    for name in shipped():
        sc = Scenario.load(name)
        assert sc.description, name
        assert sc.file.expect, f"{name} states no expected crossings"
        for site in sc.sites.values():
            assert -3.0 < site.latitude < -1.5 and 101.5 < site.longitude < 103.5, site
            assert site.kecamatan and site.name


def test_same_seed_gives_byte_identical_truth(tmp_path: Path) -> None:
    """Ground truth of a seed is the same bytes on every run, vehicles included; another
    seed gives other values; the same seed through a fresh engine does not depend on
    what was computed before (a cache that leaked state would show here)."""
    a = Scenario.load("rainy_season_flood")
    one = _truth(tmp_path, "a.jsonl", a, vehicles=True, until=a.start + 6 * 3600)
    b = Scenario.load("rainy_season_flood")
    b.values("srl-tembesi-01", b.start + 20 * 3600)  # ask out of order first
    two = _truth(tmp_path, "b.jsonl", b, vehicles=True, until=b.start + 6 * 3600)
    assert one == two
    assert b"scenario_vehicle" in one and b'"water_level"' in one
    other = Scenario.load("rainy_season_flood", seed=8)
    three = _truth(tmp_path, "c.jsonl", other, vehicles=True, until=other.start + 6 * 3600)
    assert three != one


def test_truth_does_not_depend_on_the_pace(tmp_path: Path) -> None:
    """Paced by an accelerated real clock or unpaced: the same samples, the same bytes."""
    sc = Scenario.load("normal_day")
    until = sc.start + 4 * 3600
    unpaced = _truth(tmp_path, "fast.jsonl", sc, until=until)
    paced = _truth(
        tmp_path,
        "paced.jsonl",
        Scenario.load("normal_day"),
        clock=sc.clock(speed=4 * 3600 / 1.5),
        until=until,
    )
    assert paced == unpaced
    records = read_truth(tmp_path / "paced.jsonl")
    assert records[0]["kind"] == "scenario_start" and records[-1]["kind"] == "scenario_end"
    assert records[-1]["samples"] == 4 * 3600 / sc.step + 1


def test_clock_maps_real_to_scenario_time() -> None:
    now = [1000.0]
    clock = ScenarioClock(1_764_522_000.0, 1440, clock=lambda: now[0])
    assert clock.now() == 1_764_522_000.0
    now[0] += 60  # a real minute
    assert clock.now() == 1_764_522_000.0 + 86400
    assert clock.real_time(1_764_522_000.0 + 43200) == 1030.0
    with pytest.raises(ValueError, match="positive"):
        ScenarioClock(0.0, 0)


def test_vehicle_stream_is_the_same_however_the_interval_is_cut() -> None:
    sc = Scenario.load("normal_day")
    t0 = sc.at("day1 07:00")
    whole = sc.vehicles("srl-pasar-01", t0, t0 + 600)
    parts = []
    for a in range(0, 600, 37):
        parts += sc.vehicles("srl-pasar-01", t0 + a, t0 + min(a + 37, 600))
    assert whole == parts
    assert all(t0 <= v.time < t0 + 600 for v in whole)
    assert [v.time for v in whole] == sorted(v.time for v in whole)
    assert {v.direction for v in whole if v.lane == 1} == {"N"}
    assert {v.direction for v in whole if v.lane == 2} == {"S"}


def _hourly_counts(sc: Scenario, site: str, day: int) -> list[int]:
    counts = []
    for h in range(24):
        t = sc.at(f"day{day} {h:02d}:00")
        counts.append(len(sc.vehicles(site, t, t + 3600)))
    return counts


def test_diurnal_traffic_shape_at_the_market() -> None:
    """A weekday at Pasar Sarolangun: morning and evening peaks, a quiet night; counted
    vehicles follow the expected rate (Poisson: within 5 standard deviations)."""
    sc = Scenario.load("normal_day")
    counts = _hourly_counts(sc, "srl-pasar-01", 1)
    night, morning, evening = counts[2], max(counts[6:9]), max(counts[16:19])
    assert morning > 10 * night, counts
    assert evening > 10 * night, counts
    assert counts.index(max(counts)) in (7, 8, 17), counts
    assert min(counts[10:15]) < morning, counts  # a midday dip between the peaks
    for h in (2, 7, 12, 17):
        t = sc.at(f"day1 {h:02d}:00")
        expected = sum(sc.traffic("srl-pasar-01", t + m * 60 + 30).flow / 60 for m in range(60))
        assert abs(counts[h] - expected) < 5 * math.sqrt(expected) + 2, (h, counts[h], expected)


def test_motorcycles_dominate_and_speeds_differ_by_class() -> None:
    sc = Scenario.load("normal_day")
    t = sc.at("day1 06:00")
    vehicles = sc.vehicles("srl-pasar-01", t, t + 3 * 3600)
    share = sum(v.vehicle_class == "SM" for v in vehicles) / len(vehicles)
    assert 0.6 < share < 0.85, share
    by_class = {c: [v.speed for v in vehicles if v.vehicle_class == c] for c in ("SM", "TB")}
    assert all(3 <= s <= 130 for v in by_class.values() for s in v)
    lengths = {v.vehicle_class: v.length for v in vehicles}
    assert lengths["SM"] < 2.2 and lengths["KR"] > 3.5


def test_weekend_differs_from_weekday() -> None:
    """The normal day is a Tuesday (day 1); day 5 is Saturday: a later, flatter morning."""
    sc = Scenario.load("normal_day")
    weekday = _hourly_counts(sc, "srl-pasar-01", 1)
    weekend = _hourly_counts(sc, "srl-pasar-01", 5)
    assert weekend[7] < 0.75 * weekday[7], (weekend[7], weekday[7])
    assert weekend[10] > weekday[10] * 1.1, (weekend[10], weekday[10])


def test_congestion_at_peak_on_the_town_segment() -> None:
    """On market day the town segment goes above capacity at 07:30 and speeds collapse;
    the rural road at Pauh stays fluid."""
    sc = Scenario.load("rush_hour_congestion")
    peak, night = (
        sc.traffic("srl-pasar-01", sc.at("day1 07:30")),
        sc.traffic("srl-pasar-01", sc.at("day1 03:00")),
    )
    assert peak.ds > 1.0 and peak.los == "F"
    assert peak.smp <= sc.sites["srl-pasar-01"].config.traffic.capacity + 1e-6
    assert peak.speed < 0.7 * night.speed
    assert sc.traffic("srl-pauh-01", sc.at("day1 07:30")).ds < 0.45


def test_weather_of_a_normal_day() -> None:
    """23-34 °C, hottest early afternoon; near-saturated nights; rain only in the
    afternoon storm; asphalt far hotter than the air at noon, wet under the rain."""
    sc = Scenario.load("normal_day")
    samples = [(t, sc.values("srl-pasar-01", t)) for t in (sc.start + k * 600 for k in range(145))]
    temps = [v["temperature"] for _, v in samples]
    assert min(temps) >= 22.9 and max(temps) <= 34.0
    assert max(temps) - min(temps) > 5
    hot = max(samples, key=lambda s: s[1]["temperature"])[0]
    assert 11 <= wib_hour(hot) <= 16
    night = [v["humidity"] for t, v in samples if wib_hour(t) < 5]
    assert min(night) > 92
    rainy = [t for t, v in samples if v["rain_intensity"] > 0.5]
    assert rainy and all(12 <= wib_hour(t) <= 20 for t in rainy)
    noon = sc.values("srl-pasar-01", sc.at("day1 12:30"))
    assert noon["surface_temperature"] > noon["temperature"] + 10
    wet = max(v["water_film"] for _, v in samples)
    assert wet > 0.3 and samples[0][1]["water_film"] < 0.01  # dry before dawn


def test_readings_are_valid_protocol_readings() -> None:
    """What devices and fleets publish passes the real codec's validation."""
    from telemetry.models import Batch, Reading

    sc = Scenario.load("rainy_season_flood")
    t = sc.at("day1 15:00")
    values = sc.readings("srl-tembesi-01", t, interval=600)
    measurements = {v.measurement for v in values}
    assert measurements == {"air_quality", "weather", "water_level", "road_surface", "traffic"}
    readings = [
        Reading(
            sensor=v.sensor,
            measurement=v.measurement,
            time=round(t * 1000),
            fields=v.fields,
            tags=v.tags,
        )
        for v in values
    ]
    Batch(gateway="srl-tembesi-01", seq=0, sent=round(t * 1000), readings=readings)
    weather = next(v for v in values if v.measurement == "weather")
    assert weather.fields["rain"] == pytest.approx(
        sc.rain_mm("srl-tembesi-01", t - 600, t), abs=0.01
    )
    assert weather.fields["rain"] > 2  # the flood storm
    water = next(v for v in values if v.measurement == "water_level")
    assert water.fields["level"] + water.fields["distance"] == pytest.approx(280.0, abs=0.11)


def test_ispu_breakpoints_and_categories() -> None:
    assert ispu.ispu_index("pm25", 15.5) == pytest.approx(50)
    assert ispu.ispu_index("pm25", 55.4) == pytest.approx(100)
    assert ispu.ispu_index("pm25", 100.0) == pytest.approx(100 + 100 * (100 - 55.4) / 95.0)
    assert ispu.category_of("pm25", 20).key == "sedang"
    assert ispu.category_of("pm25", 150.4).key == "tidak_sehat"
    assert ispu.category_of("pm25", 251).label("id") == "Berbahaya"
    assert ispu.category_of("pm10", 600).key == "berbahaya"
    with pytest.raises(ValueError, match="no ISPU breakpoints for 'pm1'"):
        ispu.ispu_index("pm1", 3)


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "bad.toml"
    path.write_text(text)
    return path


def test_scenario_file_errors_name_key_value_and_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
name = "bad"
start = 2025-12-02
duration = "1x"
speeed = 3
[[sites]]
gateway = "srl-pasar-01"
traffic = { profile = "city" }
[[expect]]
at = "day1 25:00"
site = "srl-pasar-01"
signal = "pm25"
crosses = "tidak_sehat"
""",
    )
    with pytest.raises(ConfigError) as err:
        Scenario.load(path)
    text = err.value.render()
    assert str(path) in text
    assert "duration = '1x'" in text and "not a duration" in text
    assert "speeed" in text and "unknown key" in text
    assert "sites[0].traffic.profile = 'city'" in text
    assert "expect[0].at = 'day1 25:00'" in text


def test_scenario_cross_checks(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
name = "bad"
start = 2025-12-02
duration = "1d"
[[sites]]
gateway = "srl-pasar-01"
[[sites]]
gateway = "srl-nowhere-01"
[[expect]]
at = "day1 10:00"
site = "srl-pasar-01"
signal = "water_level"
crosses = "siaga"
[[expect]]
at = "day3 10:00"
site = "srl-pasar-01"
signal = "pm25"
crosses = "kabut"
""",
    )
    with pytest.raises(ConfigError) as err:
        Scenario.load(path)
    text = err.value.render()
    assert "sites[1].latitude = None: required for a site not in simulators/sites.py" in text
    assert "expect[0].crosses = 'siaga': site 'srl-pasar-01' has no [flood] settings" in text
    assert "expect[1].crosses = 'kabut': unknown ISPU category" in text
    assert "expect[1].at = 'day3 10:00': after the end of the scenario" in text


def test_unknown_scenario_names_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="shipped scenarios: first_rains, haze_episode, normal"):
        Scenario.load("monsoon")


def test_values_of_unknown_site_or_signal() -> None:
    sc = Scenario.load("normal_day")
    with pytest.raises(KeyError, match="no site 'srl-x'"):
        sc.values("srl-x", sc.start)
    with pytest.raises(KeyError, match="signal 'water_level' does not exist at 'srl-pauh-01'"):
        sc.value("srl-pauh-01", "water_level", sc.start)


def test_scenario_files_live_in_the_package() -> None:
    assert {p.stem for p in SCENARIO_DIR.glob("*.toml")} >= set(SHIPPED)
