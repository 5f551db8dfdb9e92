"""The full device set of a cabinet driven by a scenario, read by the real drivers over
pseudo-terminals: what the drivers publish is what the emulators sent, and what they sent is
the scenario's value after the documented scaling. Same seed, same bytes."""

from __future__ import annotations

import json
from pathlib import Path

from simulators.devices import sources
from simulators.devices.modbus_patterns import RegisterPattern
from simulators.devices.weather_station import encode
from simulators.devices.wire import vehicle, wxt
from simulators.scenario.engine import Scenario
from testkit.cabinet import GATEWAY, Cabinet, wait_for

SCALED = {  # field -> (scenario signal, tolerance: half the register's resolution)
    "env1": {"pm25": ("pm25", 0.05), "pm10": ("pm10", 0.05), "temperature": ("temperature", 0.05)},
    "th1": {"temperature": ("temperature", 0.05), "humidity": ("humidity", 0.05)},
    "wl1": {"distance": ("water_distance", 0.05)},
    "rs1": {
        "surface_temperature": ("surface_temperature", 1e-4),
        "water_film": ("water_film", 5e-4),
    },
}


def test_scenario_values_reach_the_drivers(tmp_path: Path) -> None:
    sc = Scenario.load("rainy_season_flood")
    wanted = ["env1", "th1", "rain1", "wl1", "rs1", "wx1"]
    with Cabinet(tmp_path, scenario=sc, speed=60, only=wanted) as cab:
        assert wait_for(lambda: all(len(cab.readings[d]) >= 3 for d in wanted if d != "rain1"), 30)
        assert wait_for(lambda: cab.drivers["rain1"].state == "ok", 10)
    for device, fields in SCALED.items():
        sent = cab.records("modbus_values", device)
        assert sent and all("source_time" in r for r in sent)
        for r in sent:
            values = sc.values(GATEWAY, r["source_time"] / 1000)
            for name, (signal, tolerance) in fields.items():
                assert abs(r["fields"][name] - values[signal]) <= tolerance + 1e-9, (device, r)
        for reading in cab.readings[device]:
            assert reading.fields in [r["fields"] for r in sent], reading
    # the level gauge publishes level = reference - distance, reference = the gauge height
    ref = sc.sites[GATEWAY].config.flood.gauge_height
    for reading in cab.readings["wl1"]:
        assert abs(reading.fields["level"] - (ref - reading.fields["distance"])) < 1e-6
    # the rain gauge counts 0.2 mm tips of the rain since the scenario's start
    start = sources.counter_start(sc.seed, GATEWAY)
    for r in cab.records("modbus_values", "rain1"):
        rain = sc.rain_mm(GATEWAY, sc.start, r["source_time"] / 1000)
        assert r["counters"]["rain"] == (start + int(rain / 0.2 + 1e-9)) % 65536
    # the weather station: sentence values are the scenario's, rounded as on the wire
    sent_wx = cab.records("weather_values", "wx1")
    assert sent_wx
    for r in sent_wx:
        v = sc.values(GATEWAY, r["source_time"] / 1000)
        assert abs(r["temperature"] - v["temperature"]) <= 0.05 + 1e-9
        assert abs(r["humidity"] - v["humidity"]) <= 0.05 + 1e-9
        assert abs(r["pressure"] - v["pressure"]) <= 0.05 + 1e-9
    got = [(x.fields["temperature"], x.fields["humidity"]) for x in cab.readings["wx1"]]
    assert set(got) <= {(r["temperature"], r["humidity"]) for r in sent_wx}


def render(seed: int, path: Path) -> None:
    """The bytes every device of a full cabinet sends for a scenario hour, unpaced."""
    sc = Scenario.load("rainy_season_flood", seed=seed)
    t0 = sc.at("day1 14:00")
    lines = []
    for u in sources.BUS_UNITS:
        pattern = RegisterPattern(u.profile, seed)
        hook = sources.modbus_values(sc, GATEWAY, u.sensor)
        for k in range(12):
            lines.append({"device": u.sensor, "registers": pattern.encode(hook(t0 + 300 * k))})
    weather = sources.weather_source(sc, GATEWAY)
    for k in range(12):
        line = wxt.message("0", 0, encode(weather(t0 + 300 * k), {}), crc=True)
        lines.append({"device": "wx1", "line": line.decode()})
    for v in sources.vehicle_source(sc, GATEWAY)(t0, t0 + 3600):
        record = vehicle.vehicle(
            round(v.time * 1000), v.lane, v.direction, v.speed, v.length, v.vehicle_class
        )
        lines.append({"device": "cnt1", "line": record.line.decode()})
    path.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))


def test_same_seed_same_bytes_for_the_full_device_set(tmp_path: Path) -> None:
    render(7, tmp_path / "a.jsonl")
    render(7, tmp_path / "b.jsonl")
    render(8, tmp_path / "c.jsonl")
    a = (tmp_path / "a.jsonl").read_bytes()
    assert a == (tmp_path / "b.jsonl").read_bytes()
    assert a != (tmp_path / "c.jsonl").read_bytes()
    devices = {json.loads(line)["device"] for line in a.splitlines()}
    assert devices == {u.sensor for u in sources.BUS_UNITS} | {"wx1", "cnt1"}
