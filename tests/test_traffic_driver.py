"""The traffic counter path over real serial I/O: simulator -> pty pair -> pyserial -> driver.

Each test runs the emulated counter (:class:`TrafficCounterSim`) on the device side of a
:class:`SerialLink` and the real :class:`TrafficCounterDriver` on the gateway side, each in its
own thread, in real time. Readings are checked against the simulator's ground truth.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import pytest

from gateway.drivers.traffic_counter import TrafficCounterConfig, TrafficCounterDriver
from gateway.traffic import VehicleRecord, format_record, frame_line, parse_line
from simulators.serial_link import SerialLink
from simulators.traffic_counter import TrafficCounterSim, arrivals
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading

INTERVAL_S = 1
GRACE_S = 0.4


class Collector:
    """The driver's sink: keeps every reading, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.readings: list[Reading] = []

    def __call__(self, readings) -> None:
        with self._lock:
            self.readings.extend(readings)

    def snapshot(self) -> list[Reading]:
        with self._lock:
            return list(self.readings)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


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
    stop = threading.Event()
    thread = threading.Thread(target=driver.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: driver.state == "ok"), driver.state
        yield driver
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive(), "run() did not return after stop"


def expected_from_truth(truth: list[dict], reading: Reading) -> dict:
    """Recompute one published reading from what the simulator sent."""
    speeds = [
        t["speed"]
        for t in truth
        if t["kind"] == "vehicle"
        and str(t["lane"]) == reading.tags["lane"]
        and reading.time <= t["time"] < reading.time + INTERVAL_S * 1000
    ]
    fields: dict = {"count": len(speeds)}
    if speeds:
        fields["speed_mean"] = round(math.fsum(speeds) / len(speeds), 2)
    return fields


def by_interval(readings: list[Reading]) -> dict[int, set[str]]:
    lanes = defaultdict(set)
    for r in readings:
        lanes[r.time].add(r.tags["lane"])
    return lanes


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
    with SerialLink(tmp_path / "ttyCNT") as link, running_driver(link, sink) as driver:
        sim = TrafficCounterSim(
            link.device_path, seed=3, vehicles_per_minute=240, heartbeat_interval=0.3, truth=truth
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

    intervals = by_interval(readings)
    starts = sorted(intervals)
    assert len(starts) >= 3, starts
    assert all(lanes == {"1", "2"} for lanes in intervals.values())
    assert len(readings) == 2 * len(starts)  # each interval published once per lane
    assert starts == list(range(starts[0], starts[-1] + 1, INTERVAL_S * 1000))  # no gaps
    # Every interval that ended before the simulator stopped was published.
    assert starts[-1] + INTERVAL_S * 1000 >= stopped_ms - stopped_ms % (INTERVAL_S * 1000)
    for reading in readings:
        assert reading.fields == expected_from_truth(sent, reading), reading
    published = sum(r.fields["count"] for r in readings)
    assert published >= 8  # most vehicles fell into complete intervals
    # Lines in truth are the exact wire lines of the records.
    for t in sent:
        record = parse_line(t["line"].encode())
        assert isinstance(record, VehicleRecord)
        assert (record.time_ms, record.lane, record.speed_kmh) == (t["time"], t["lane"], t["speed"])


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
    def stream(seed: int) -> list[tuple]:
        return [
            (a.gap_s, a.lane, a.vehicle_class, a.speed_kmh, a.length_m)
            for a in islice(arrivals(seed, (1, 2), 30.0), 500)
        ]

    first = stream(11)
    assert stream(11) == first
    assert stream(12) != first
    classes = [v[2] for v in first]
    assert classes.count("SM") > 0.6 * len(classes)  # motorcycles dominate
    assert {lane for _, lane, *_ in first} == {1, 2}
    # The simulator sends exactly that sequence over the link.
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    with SerialLink(tmp_path / "ttyCNT") as link:
        sim = TrafficCounterSim(link.device_path, seed=11, vehicles_per_minute=3000, truth=truth)
        with sim:
            assert wait_for(lambda: sim.sent >= 15, 3)
    truth.close()
    sent = [
        (t["lane"], t["vehicle_class"], t["speed"], t["length"]) for t in read_truth(truth_path)
    ]
    assert len(sent) >= 15
    expected = [
        (a.lane, a.vehicle_class, a.speed_kmh, a.length_m)
        for a in islice(arrivals(11, (1, 2), 3000), len(sent))
    ]
    assert sent == expected
