"""The traffic counter emulator's own line encoder (simulators/devices/wire/vehicle.py): the
examples of docs/protocol.md 5.1, then the gateway's real parser reading what the emulator
sends and recovering the emulator's truth."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.traffic_counter.protocol import Heartbeat, VehicleRecord, parse_line
from simulators.devices.serial_link import SerialLink
from simulators.devices.traffic_counter import TrafficCounterSim
from simulators.devices.wire import vehicle
from simulators.truth import TruthWriter, read_truth

DOC_TIME = int(datetime(2026, 11, 30, 8, 0, 1, 250_000, tzinfo=UTC).timestamp() * 1000)


# -- known answers --------------------------------------------------------------------------------


def test_the_examples_of_the_protocol_document() -> None:
    record = vehicle.vehicle(DOC_TIME, 1, "N", 45.2, 1.8, "SM")
    assert record.line == b"$VEH,20261130T080001.250Z,1,N,45.2,1.8,SM*1B\r\n"
    assert (record.speed, record.length) == (45.2, 1.8)
    assert vehicle.heartbeat(DOC_TIME + 8750) == b"$HBT,20261130T080010.000Z*6E\r\n"


def test_times_and_numbers_as_written() -> None:
    assert vehicle.timestamp(0) == "19700101T000000.000Z"
    assert vehicle.timestamp(4_102_444_799_999) == "20991231T235959.999Z"
    assert vehicle.tenths(45.24) == ("45.2", 45.2)
    assert vehicle.tenths(45.26) == ("45.3", 45.3)
    assert vehicle.tenths(0.0) == ("0.0", 0.0)
    assert vehicle.tenths(299.96) == ("300.0", 300.0)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError):
            vehicle.tenths(bad)
    with pytest.raises(ValueError):
        vehicle.vehicle(DOC_TIME, 10, "N", 40.0, 1.8, "SM")


# -- the gateway's parser reads what the emulator writes ------------------------------------------


@given(
    st.integers(946_684_800_000, 4_102_444_799_999),  # 2000-2099
    st.integers(1, 9),
    st.sampled_from("NESW"),
    st.floats(0, 299.9),
    st.floats(0, 39.9),
    st.sampled_from(["SM", "KR", "KS", "BB", "TB"]),
)
def test_the_gateway_reads_every_record(
    time_ms: int, lane: int, direction: str, speed: float, length: float, vehicle_class: str
) -> None:
    record = vehicle.vehicle(time_ms, lane, direction, speed, length, vehicle_class)
    parsed = parse_line(record.line)
    assert parsed == VehicleRecord(
        time_ms, lane, direction, record.speed, record.length, vehicle_class
    )
    assert abs(record.speed - speed) <= 0.05 + 1e-9 and abs(record.length - length) <= 0.05 + 1e-9
    assert parse_line(vehicle.heartbeat(time_ms)) == Heartbeat(time_ms)


class _Clock:
    """Scenario time = real time (the counter's source clock)."""

    def now(self) -> float:
        return time.time()

    def real_time(self, t: float) -> float:
        return t


def test_the_gateway_reads_the_emulators_lines_and_recovers_its_truth(tmp_path: Path) -> None:
    """Vehicles with speeds and lengths of any precision (a scenario's) go through the real
    emulator, a pty and pyserial to the gateway's parser: each parsed record is the truth line
    the emulator wrote for it."""
    start = time.time() + 0.3
    speeds = [45.25, 45.35, 0.05, 12.349999, 88.0, 130.96]
    passing = [
        SimpleNamespace(
            time=start + 0.05 * i,
            lane=1 + i % 2,
            direction="NS"[i % 2],
            vehicle_class="SMKRKSBBTB"[2 * (i % 5) : 2 * (i % 5) + 2],
            speed=speed,
            length=1.75 + i / 3,
        )
        for i, speed in enumerate(speeds)
    ]

    def vehicles(t0: float, t1: float) -> list[SimpleNamespace]:
        return [v for v in passing if t0 <= v.time < t1]

    truth = TruthWriter(tmp_path / "truth.jsonl")
    with (
        SerialLink(tmp_path / "ttyCNT") as link,
        serial.Serial(link.path, 9600, timeout=0.1) as port,
        TrafficCounterSim(link.device_path, truth=truth, vehicles=vehicles, source_clock=_Clock()),
    ):
        data = b""
        deadline = time.monotonic() + 10
        while data.count(b"$VEH") < len(passing) and time.monotonic() < deadline:
            data += port.read(port.in_waiting or 1)
    truth.close()
    parsed = [parse_line(line) for line in data.splitlines(keepends=True)]
    records = [r for r in read_truth(tmp_path / "truth.jsonl") if r["kind"] == "vehicle"]
    assert len(records) == len(parsed) == len(passing)
    for got, want, v in zip(parsed, records, passing, strict=True):
        assert got == VehicleRecord(
            want["time"],
            want["lane"],
            want["direction"],
            want["speed"],
            want["length"],
            want["vehicle_class"],
        )
        assert (
            want["line"].encode()
            == vehicle.vehicle(
                want["time"], v.lane, v.direction, v.speed, v.length, v.vehicle_class
            ).line
        )
        assert abs(want["speed"] - v.speed) <= 0.05 + 1e-9
