"""The Modbus RTU path end to end over real pseudo-terminals: a pymodbus RTU server emulating
the sensor on one side of a SerialLink, the gateway's ModbusDriver on the other."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.devices.modbus.frames import crc16
from gateway.devices.modbus.profile import compile_profile, load_profile
from simulators.devices.modbus import ModbusSensorSim, RegisterPattern
from simulators.devices.serial_link import SerialLink
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading
from testkit.drivers import wait_for

POLL = 0.3


class Running:
    """A ModbusDriver in its own thread, collecting what it hands to the sink."""

    def __init__(self, port: str, profile: str = "pm-th-generic", unit: int = 1) -> None:
        config = ModbusConfig(
            id="env1",
            driver="modbus",
            serial={"port": port, "timeout": 0.2},
            unit=unit,
            profile=profile,
            poll_interval=POLL,
            retries=0,
            reopen_interval=0.2,
        )
        self.readings: list[Reading] = []
        self.driver = ModbusDriver(config, self.readings.extend)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.driver.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait_state(self, state: str, timeout: float = 5.0) -> None:
        assert wait_for(lambda: self.driver.state == state, timeout), (
            f"state {self.driver.state!r} ({self.driver.last_error}), expected {state!r}"
        )

    def wait_readings(self, n: int, timeout: float = 5.0) -> list[Reading]:
        assert wait_for(lambda: len(self.readings) >= n, timeout), f"{len(self.readings)} readings"
        return list(self.readings)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the driver did not stop"


@pytest.fixture
def link(tmp_path: Path) -> Iterator[SerialLink]:
    with SerialLink(tmp_path / "ttyENV") as link:
        yield link


@pytest.fixture
def truth(tmp_path: Path) -> Iterator[TruthWriter]:
    writer = TruthWriter(tmp_path / "truth.jsonl")
    yield writer
    writer.close()


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Expected device failures are logged as one line, never with a traceback."""
    caplog.set_level(logging.INFO, logger="gateway")
    yield
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def truth_fields(tmp_path: Path) -> list[dict[str, float]]:
    return [line["fields"] for line in read_truth(tmp_path / "truth.jsonl")]


def test_readings_match_the_simulator_truth(
    link: SerialLink, truth: TruthWriter, tmp_path: Path, no_tracebacks: None
) -> None:
    started = time.time()
    with ModbusSensorSim(
        link.device_path, "pm-th-generic", seed=3, update_interval=0.25, truth=truth
    ):
        gw = Running(link.path)
        try:
            readings = gw.wait_readings(4)
            gw.wait_state("ok")
        finally:
            gw.close()
    known = truth_fields(tmp_path)
    assert len({tuple(sorted(f.items())) for f in known}) > 2, "the values do change"
    for reading in readings:
        assert reading.sensor == "env1"
        assert reading.measurement == "air_quality"
        assert set(reading.fields) == {"pm25", "pm10", "temperature", "humidity"}
        assert reading.fields in known, f"{reading.fields} is not in the truth"
        assert started * 1000 - 1 <= reading.time <= time.time() * 1000
    assert gw.driver.polls == len(readings)
    times = [r.time for r in readings]
    assert times == sorted(times)


def test_silent_device_times_out_and_recovers(
    link: SerialLink, truth: TruthWriter, tmp_path: Path, no_tracebacks: None
) -> None:
    sim = ModbusSensorSim(link.device_path, "pm-th-generic", truth=truth).start()
    gw = Running(link.path)
    try:
        gw.wait_state("ok")
        sim.stop()
        assert not sim.running
        gw.wait_state("timeout")
        assert "no answer" in (gw.driver.last_error or "")
        count = len(gw.readings)
        time.sleep(2 * POLL)
        assert gw.thread.is_alive(), "the driver keeps running"
        assert len(gw.readings) == count, "no readings while the device is silent"
        assert gw.driver.errors["timeout"] >= 2, "every silent poll is counted"
        with ModbusSensorSim(link.device_path, "pm-th-generic", seed=1, truth=truth):
            gw.wait_state("ok")
            gw.wait_readings(count + 1)
        assert gw.readings[-1].fields in truth_fields(tmp_path)
    finally:
        gw.close()
        sim.stop()


def test_unplug_and_replug(link: SerialLink, no_tracebacks: None) -> None:
    with ModbusSensorSim(link.device_path, "pm-th-generic", update_interval=0.2):
        gw = Running(link.path)
        try:
            gw.wait_state("ok")
            link.unplug()
            gw.wait_state("unplugged")
            count = len(gw.readings)
            time.sleep(3 * 0.2)
            assert gw.thread.is_alive()
            assert gw.driver.errors["unplugged"] == 1, "one unplug, however many reopen tries"
            link.replug()
            gw.wait_state("ok")
            gw.wait_readings(count + 2)
        finally:
            gw.close()


def test_port_missing_at_start(tmp_path: Path, no_tracebacks: None) -> None:
    gw = Running(str(tmp_path / "ttyLATER"))
    try:
        gw.wait_state("unplugged")
        assert "does not exist" in (gw.driver.last_error or "")
        with (
            SerialLink(tmp_path / "ttyLATER") as link,
            ModbusSensorSim(link.device_path, "pm-th-generic"),
        ):
            gw.wait_state("ok")
            gw.wait_readings(1)
    finally:
        gw.close()


def reframe(unit: int) -> Callable[[bytes], bytes]:
    """Rewrite the unit byte of every answer and give it a valid CRC again."""

    def rewrite(data: bytes) -> bytes:
        body = bytes([unit]) + data[1:-2]
        return body + crc16(body).to_bytes(2, "big")

    return rewrite


@pytest.mark.parametrize(
    ("fault", "state", "message"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "crc_error", "crc_error: CRC"),
        (lambda b: b[:-3], "crc_error", "truncated"),
        (lambda b: b"\xff\x00" + b, "crc_error", "garbage"),
        (reframe(9), "decode_error", "wrong_unit: answer from unit 9"),
    ],
    ids=["bad-crc", "truncated", "garbage", "wrong-unit"],
)
def test_damaged_answers(
    link: SerialLink, fault: Callable[[bytes], bytes], state: str, message: str, no_tracebacks: None
) -> None:
    with ModbusSensorSim(link.device_path, "pm-th-generic"):
        gw = Running(link.path)
        try:
            gw.wait_state("ok")
            link.to_gateway = fault
            gw.wait_state(state)
            assert message in (gw.driver.last_error or "")
            count = len(gw.readings)
            link.to_gateway = None
            gw.wait_state("ok")
            gw.wait_readings(count + 1)
        finally:
            gw.close()


def test_exception_answer_is_an_error(
    link: SerialLink, tmp_path: Path, no_tracebacks: None
) -> None:
    """A profile asking for registers the device does not have: exception 2."""
    profile = tmp_path / "wrong.toml"
    profile.write_text(
        'model = "wrong"\nmeasurement = "weather"\n'
        '[[fields]]\nname = "pressure"\naddress = 100\nunit = "hPa"\n'
    )
    with ModbusSensorSim(link.device_path, "pm-th-generic"):
        gw = Running(link.path, profile=str(profile))
        try:
            gw.wait_state("error")
            assert "illegal data address" in (gw.driver.last_error or "")
            assert gw.readings == []
        finally:
            gw.close()


def test_other_units_get_no_answer(link: SerialLink) -> None:
    with ModbusSensorSim(link.device_path, "pm-th-generic", unit=5):
        gw = Running(link.path, unit=1)
        try:
            gw.wait_state("timeout")
        finally:
            gw.close()
        gw = Running(link.path, unit=5)
        try:
            gw.wait_state("ok")
        finally:
            gw.close()


# -- the simulator ------------------------------------------------------------------------------


def test_same_seed_same_values(tmp_path: Path) -> None:
    """Two simulators with one seed, run at different moments on different links, produce
    the same sequence of registers; another seed does not."""
    runs = []
    for i, seed in enumerate([11, 11, 12]):
        path = tmp_path / f"truth{i}.jsonl"
        writer = TruthWriter(path)
        with SerialLink(tmp_path / f"tty{i}") as link:
            sim = ModbusSensorSim(
                link.device_path, "pm-th-generic", seed=seed, update_interval=0.05, truth=writer
            )
            with sim:
                assert wait_for(lambda sim=sim: sim.step >= 5)
        writer.close()
        runs.append([line["registers"] for line in read_truth(path)][:5])
    assert len(runs[0]) == 5
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    pattern = RegisterPattern("pm-th-generic", 11, 0.05)
    assert [{str(a): v for a, v in pattern.registers(k).items()} for k in range(5)] == runs[0]


def test_values_are_plausible_for_sarolangun() -> None:
    compiled = compile_profile(load_profile("pm-th-generic"))
    pattern = RegisterPattern("pm-th-generic", seed=5, step_seconds=300)
    days = [compiled.decode(pattern.registers(k)) for k in range(2 * 288)]  # two days
    pm25 = [d["pm25"] for d in days]
    temps = [d["temperature"] for d in days]
    assert all(10 <= v <= 60 for v in pm25)
    assert all(23 <= v <= 34 for v in temps)
    assert all(60 <= d["humidity"] <= 100 for d in days)
    assert all(1.2 <= d["pm10"] / d["pm25"] <= 1.6 for d in days)
    assert max(temps) - min(temps) > 8, "a diurnal cycle"
    assert max(abs(a - b) for a, b in itertools.pairwise(pm25)) < 8, "a slow drift"
    hottest = days[temps.index(max(temps))]
    coolest = days[temps.index(min(temps))]
    assert hottest["humidity"] < coolest["humidity"]


def test_stop_is_clean(link: SerialLink, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sim = ModbusSensorSim(link.device_path, "pm-th-generic")
    with sim:
        assert sim.running
    assert not sim.running
    assert not [t for t in threading.enumerate() if t.name.startswith("modbus-sim")]
    sim.stop()  # idempotent
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
