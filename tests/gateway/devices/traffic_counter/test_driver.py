"""The traffic counter path over real serial I/O: simulator -> pty pair -> pyserial -> driver.

Each test runs the emulated counter (:class:`TrafficCounterSim`) on the device side of a
:class:`SerialLink` and the real :class:`TrafficCounterDriver` on the gateway side, each in its
own thread, in real time. Readings are checked against the simulator's ground truth,
recomputed by the independent reference in testkit/traffic_reference.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import pytest

from gateway.devices.traffic_counter.driver import TrafficCounterConfig, TrafficCounterDriver
from gateway.devices.traffic_counter.protocol import (
    VehicleRecord,
    format_record,
    frame_line,
    parse_line,
)
from simulators.devices.serial_link import SerialLink
from simulators.devices.traffic_counter import TrafficCounterSim, arrivals
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading
from testkit.drivers import Collector, in_thread, wait_for
from testkit.traffic_reference import Params, expected_readings, forwarded_times

INTERVAL_S = 1
GRACE_S = 0.4


@contextmanager
def running_driver(
    link: SerialLink, sink: Collector, **overrides
) -> Iterator[TrafficCounterDriver]:
    config = TrafficCounterConfig.model_validate(
        {
            "id": "cnt1",
            "driver": "traffic_counter",
            "serial": {"port": link.path, "baudrate": 9600, "timeout": 0.5},
            "interval": INTERVAL_S,
            "lanes": [1, 2],
            "grace": GRACE_S,
            "reopen_interval": 0.1,
            **overrides,
        }
    )
    driver = TrafficCounterDriver(config, sink)
    with in_thread(driver):
        assert wait_for(lambda: driver.state == "ok"), driver.state
        yield driver


def flows(readings: list[Reading]) -> list[Reading]:
    return [r for r in readings if r.measurement == "traffic_flow"]


def by_interval(readings: list[Reading]) -> dict[int, set[str]]:
    lanes = defaultdict(set)
    for r in flows(readings):
        lanes[r.time].add(r.tags["lane"] + r.tags["direction"])
    return lanes


def point_key(r: Reading) -> tuple:
    return (r.measurement, tuple(sorted(r.tags.items())), r.time)


#: Summary settings of the main test: an undivided road with lane and segment capacities.
SUMMARY_KEYS = {
    "directions": {1: "N", 2: "S"},
    "road_type": "2/2UD",
    "detection_zone": 2.5,
    "capacity": {1: 1450, 2: 1500},
    "segment_capacity": 2900,
    "forward_records": True,
}
SUMMARY = Params(
    interval_s=INTERVAL_S,
    emp={"SM": 0.4, "KR": 1.0, "KS": 1.3, "BB": 1.3, "TB": 1.3},
    zone_m=2.5,
    capacity={1: 1450, 2: 1500},
    segment_capacity=2900,
)


def test_readings_match_truth_despite_injected_garbage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.device.cnt1")
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    sink = Collector()
    bad = [
        b"\x00\xff\xfe\x13 line noise \x07\r\n",  # format
        frame_line("VEH,20261130T080001.250Z,1,N,45.2,1.8,SM")[:-4] + b"00\r\n",  # checksum
        frame_line("VEH,20261130T080001.250Z,2,S,45.2,1.8,XX"),  # field: unknown class
        b"$VEH,20261130T0800",  # truncated: the next record's '$' cuts it off (format)
        b"Z" * 400 + b"\r\n",  # overlong (format)
    ]
    with (
        SerialLink(tmp_path / "ttyCNT") as link,
        running_driver(link, sink, **SUMMARY_KEYS) as driver,
    ):
        sim = TrafficCounterSim(
            link.device_path,
            seed=3,
            vehicles_per_minute=240,
            heartbeat_interval=0.3,
            truth=truth,
            side_by_side=0.3,  # many same-millisecond pairs, to exercise forwarding
            contraflow=0.1,
        )
        with sim:
            for data in bad:
                time.sleep(0.45)
                sim.send_raw(data)
            time.sleep(1.6)
        stopped_ms = int(time.time() * 1000)
        # Let the last intervals close (grace plus a tick), then stop the driver.
        time.sleep(GRACE_S + 0.7)
        readings = sink.snapshot()
        state, errors, decode_errors = driver.state, dict(driver.errors), driver.decode_errors
        records, heartbeats = driver.records, driver.heartbeats
        shifted = driver.forwarder.shifted if driver.forwarder else -1
    truth.close()
    sent = read_truth(truth_path)

    assert len(sent) == sim.sent >= 10
    assert records == sim.sent  # every good record was parsed, none lost around the garbage
    assert heartbeats == sim.heartbeats
    assert decode_errors == {"format": 3, "checksum": 1, "field": 1}
    assert errors == {"decode_error": 5}
    assert state == "ok"  # the good records after the garbage set it back
    logged = [r for r in caplog.records if "decode_error" in r.getMessage() or "skipped" in r.msg]
    assert len(logged) >= 5  # every skipped line is logged
    assert any("vehicle class 'XX'" in r.getMessage() for r in logged)
    assert all(r.exc_info is None for r in caplog.records)  # logged without a traceback

    # Every vehicle forwarded, in order, on its own point (same-millisecond pairs 1 ms apart).
    vehicles = [r for r in readings if r.measurement == "vehicle"]
    assert [(tuple(r.tags.values()), r.time) for r in vehicles] == forwarded_times(sent)
    assert [(r.fields["speed"], r.fields["length"]) for r in vehicles] == [
        (t["speed"], t["length"]) for t in sent
    ]
    moved = sum(
        1
        for t, (_, time_ms) in zip(sent, forwarded_times(sent), strict=True)
        if time_ms != t["time"]
    )
    assert shifted == moved >= 1  # the simulator did send side-by-side motorcycles

    intervals = by_interval(readings)
    starts = sorted(intervals)
    assert len(starts) >= 3, starts
    assert all({"1N", "2S"} <= lanes for lanes in intervals.values())  # zero traffic is data
    assert starts == list(range(starts[0], starts[-1] + 1, INTERVAL_S * 1000))  # no gaps
    # Every interval that ended before the simulator stopped was published.
    assert starts[-1] + INTERVAL_S * 1000 >= stopped_ms - stopped_ms % (INTERVAL_S * 1000)
    summaries = [r for r in readings if r.measurement != "vehicle"]
    got = {point_key(r): r.fields for r in summaries}
    assert len(got) == len(summaries)  # each point published once
    assert got == expected_readings(sent, starts, {(1, "N"), (2, "S")}, SUMMARY)
    published = sum(r.fields["count"] for r in flows(readings))
    assert published >= 8  # most vehicles fell into complete intervals
    assert any(r.tags["direction"] == "S" for r in flows(readings) if r.tags["lane"] == "1")
    # Lines in truth are the exact wire lines of the records.
    for t in sent:
        record = parse_line(t["line"].encode())
        assert isinstance(record, VehicleRecord)
        assert (record.time_ms, record.lane, record.direction, record.speed_kmh) == (
            t["time"],
            t["lane"],
            t["direction"],
            t["speed"],
        )


def test_unplug_and_replug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.device.cnt1")
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyCNT") as link,
        running_driver(link, sink) as driver,
        TrafficCounterSim(
            link.device_path, seed=5, vehicles_per_minute=300, heartbeat_interval=0.3
        ),
    ):
        assert wait_for(lambda: any(r.fields["count"] for r in sink.snapshot()), 4)
        link.unplug()
        unplugged_ms = int(time.time() * 1000)
        assert wait_for(lambda: driver.state == "unplugged", 2), driver.state
        before = len(sink.snapshot())
        time.sleep(2.2)  # longer than an interval plus grace: nothing may be published
        assert len(sink.snapshot()) == before
        replug_ms = int(time.time() * 1000)
        link.replug()
        assert wait_for(lambda: driver.state == "ok", 2), driver.state
        assert wait_for(
            lambda: any(r.time >= replug_ms and r.fields["count"] for r in sink.snapshot()), 4
        ), sink.snapshot()[before:]
        readings = sink.snapshot()
        assert driver.errors.get("unplugged", 0) >= 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("unplugged" in m for m in messages) and any(
        "ok (was unplugged)" in m for m in messages
    )
    assert all(r.exc_info is None for r in caplog.records)
    # No interval overlapping the outage was published (they would be partial counts).
    step = INTERVAL_S * 1000
    for r in readings:
        assert r.time + step <= unplugged_ms or r.time >= replug_ms, (r, unplugged_ms, replug_ms)


def test_silence_is_timeout_and_nothing_is_published(tmp_path: Path) -> None:
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyCNT") as link,
        running_driver(link, sink, heartbeat_timeout=0.6) as driver,
    ):
        assert wait_for(lambda: driver.state == "timeout", 2), driver.state
        time.sleep(INTERVAL_S + GRACE_S + 0.6)
        assert driver.state == "timeout"
        assert sink.snapshot() == []  # a silent device yields no zero counts
        sim = TrafficCounterSim(link.device_path, seed=1, vehicles_per_minute=600)
        with sim:
            sim.send_raw(format_record(int(time.time() * 1000), 1, "N", 40.0, 1.8, "SM"))
            assert wait_for(lambda: driver.state == "ok", 2), driver.state
            assert wait_for(lambda: any(r.fields["count"] for r in sink.snapshot()), 4)
            assert driver.errors.get("timeout") == 1


def test_missing_port_is_unplugged_until_it_appears(tmp_path: Path) -> None:
    sink = Collector()
    link = SerialLink(tmp_path / "ttyCNT")
    try:
        link.unplug()
        config = TrafficCounterConfig(
            id="cnt1",
            driver="traffic_counter",
            serial={"port": link.path},
            interval=INTERVAL_S,
            reopen_interval=0.1,
        )
        driver = TrafficCounterDriver(config, sink)
        stop = threading.Event()
        thread = threading.Thread(target=driver.run, args=(stop,), daemon=True)
        thread.start()
        assert wait_for(lambda: driver.state == "unplugged", 2), driver.state
        assert "No such file" in (driver.last_error or "")
        link.replug()
        assert wait_for(lambda: driver.state == "ok", 2), driver.state
        stop.set()
        thread.join(5)
        assert not thread.is_alive()
    finally:
        link.close()


def test_same_seed_same_vehicles(tmp_path: Path) -> None:
    def stream(seed: int, contraflow: float = 0.0) -> list[tuple]:
        return [
            (a.gap_s, a.lane, a.vehicle_class, a.speed_kmh, a.length_m, a.direction)
            for a in islice(arrivals(seed, (1, 2), 30.0, contraflow=contraflow), 500)
        ]

    first = stream(11)
    assert stream(11) == first
    assert stream(12) != first
    classes = [v[2] for v in first]
    assert classes.count("SM") > 0.6 * len(classes)  # motorcycles dominate
    assert {lane for _, lane, *_ in first} == {1, 2}
    assert {(v[1], v[5]) for v in first} == {(1, "N"), (2, "S")}  # no contraflow by default
    side_by_side = [v for v in first if v[0] == 0.0]
    assert side_by_side and all(v[2] == "SM" for v in side_by_side)
    wrong_way = {(v[1], v[5]) for v in stream(11, contraflow=0.2)}
    assert wrong_way == {(1, "N"), (1, "S"), (2, "S"), (2, "N")}
    # The simulator sends exactly that sequence over the link.
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    with SerialLink(tmp_path / "ttyCNT") as link:
        sim = TrafficCounterSim(link.device_path, seed=11, vehicles_per_minute=3000, truth=truth)
        with sim:
            assert wait_for(lambda: sim.sent >= 15, 3)
    truth.close()
    lines = read_truth(truth_path)
    sent = [(t["lane"], t["vehicle_class"], t["speed"], t["length"]) for t in lines]
    assert len(sent) >= 15
    expected = list(islice(arrivals(11, (1, 2), 3000), len(sent)))
    assert sent == [(a.lane, a.vehicle_class, a.speed_kmh, a.length_m) for a in expected]
    # a side-by-side motorcycle is detected in the same millisecond as the one before it
    for a, previous, now in zip(expected[1:], lines, lines[1:], strict=False):
        assert (now["time"] == previous["time"]) >= a.same_instant
