"""Several Modbus devices per RS-485 bus, over real pseudo-terminals.

The gateway side is the real ModbusDriver and ModbusBus (pyserial on the pty); the device side
is a real pymodbus RTU server (ModbusBusSim) answering several unit ids on one SerialLink.
Each test uses its own BusPool, so tests never share a bus owner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from gateway.devices.modbus.bus import BusPool
from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.devices.modbus.frames import build_read_request
from gateway.devices.modbus.profile import PROFILE_DIR
from simulators.devices.modbus import ModbusBusSim, ModbusSensorSim, RegisterPattern, SimSpec
from simulators.devices.serial_link import SerialLink
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading
from testkit.drivers import wait_for

POLL = 0.3


class Device:
    """A ModbusDriver in its own thread on *pool*, recording each reading and when it came."""

    def __init__(self, pool: BusPool, port: str, ident: str, unit: int, profile: str, **kw: Any):
        serial_cfg = {"port": port, "timeout": kw.pop("timeout", 0.3), **kw.pop("serial", {})}
        self.config = ModbusConfig(
            id=ident,
            driver="modbus",
            serial=serial_cfg,
            unit=unit,
            profile=profile,
            poll_interval=kw.pop("poll_interval", POLL),
            retries=kw.pop("retries", 0),
            reopen_interval=0.2,
            **kw,
        )
        self.readings: list[Reading] = []
        self.arrivals: list[float] = []  # time.monotonic() when each reading reached the sink
        self.driver = ModbusDriver(self.config, self._sink, pool=pool)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.driver.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def _sink(self, readings: list[Reading]) -> None:
        self.readings.extend(readings)
        self.arrivals.extend(time.monotonic() for _ in readings)

    def wait_state(self, state: str, timeout: float = 8.0) -> None:
        assert wait_for(lambda: self.driver.state == state, timeout), (
            f"{self.config.id}: state {self.driver.state!r} ({self.driver.last_error}), "
            f"expected {state!r}"
        )

    def wait_readings(self, n: int, timeout: float = 8.0) -> list[Reading]:
        assert wait_for(lambda: len(self.readings) >= n, timeout), (
            f"{self.config.id}: {len(self.readings)} readings, expected {n} "
            f"(state {self.driver.state}: {self.driver.last_error})"
        )
        return list(self.readings)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), f"{self.config.id}: the driver did not stop"


@pytest.fixture
def devices() -> Iterator[list[Device]]:
    running: list[Device] = []
    yield running
    for device in running:
        device.close()


@pytest.fixture
def truth(tmp_path: Path) -> Iterator[TruthWriter]:
    writer = TruthWriter(tmp_path / "truth.jsonl")
    yield writer
    writer.close()


def truth_fields(tmp_path: Path, sensor: str) -> list[dict[str, float]]:
    return [t["fields"] for t in read_truth(tmp_path / "truth.jsonl") if t["device"] == sensor]


def test_two_devices_on_a_bus_keep_publishing_while_a_third_is_unplugged(
    tmp_path: Path, truth: TruthWriter, devices: list[Device]
) -> None:
    pool = BusPool()
    with (
        SerialLink(tmp_path / "ttyBUS") as bus_link,
        SerialLink(tmp_path / "ttyLVL") as lvl_link,
        ModbusBusSim(
            bus_link.device_path,
            [
                SimSpec(1, "pm-th-generic", 1, sensor_id="env1"),
                SimSpec(2, "th-generic", 2, {}, "th1"),
            ],
            update_interval=0.2,
            truth=truth,
        ),
        ModbusSensorSim(
            lvl_link.device_path,
            "level-ultrasonic-generic",
            update_interval=0.2,
            truth=truth,
            sensor_id="lvl1",
            params={"reference": 250.0},
        ),
    ):
        env = Device(pool, bus_link.path, "env1", 1, "pm-th-generic")
        th = Device(pool, bus_link.path, "th1", 2, "th-generic")
        lvl = Device(
            pool, lvl_link.path, "lvl1", 1, "level-ultrasonic-generic", params={"reference": 250.0}
        )
        devices += [env, th, lvl]
        assert env.driver.bus is th.driver.bus, "one owner for the shared port"
        assert lvl.driver.bus is not env.driver.bus
        for d in devices:
            d.wait_readings(2)
            d.wait_state("ok")

        lvl_link.unplug()
        lvl.wait_state("unplugged")
        lvl_count = len(lvl.readings)
        counts = len(env.readings), len(th.readings)
        env.wait_readings(counts[0] + 3)
        th.wait_readings(counts[1] + 3)
        assert (env.driver.state, th.driver.state) == ("ok", "ok")
        assert len(lvl.readings) == lvl_count, "no readings while unplugged"
        assert lvl.driver.errors["unplugged"] == 1

        lvl_link.replug()
        lvl.wait_state("ok")
        lvl.wait_readings(lvl_count + 2)
    for device, sensor in ((env, "env1"), (th, "th1"), (lvl, "lvl1")):
        known = truth_fields(tmp_path, sensor)
        for reading in device.readings:
            assert reading.fields in known, f"{sensor}: {reading.fields} not in the truth"
    assert {r.measurement for r in th.readings} == {"weather"}
    assert all(set(r.fields) == {"distance", "level"} for r in lvl.readings)
    assert all(abs(r.fields["level"] - (250.0 - r.fields["distance"])) < 1e-6 for r in lvl.readings)


def test_a_silent_unit_times_out_while_its_neighbour_keeps_its_interval(
    tmp_path: Path, devices: list[Device]
) -> None:
    """The silent unit's 4 tries of 1 s would hold a bus locked across retries for 4 s; the
    bus is released after every try, so its neighbour waits at most about one timeout."""
    pool = BusPool()
    with (
        SerialLink(tmp_path / "ttyBUS") as link,
        ModbusBusSim(
            link.device_path,
            [SimSpec(1, "pm-th-generic", 1), SimSpec(3, "th-generic", 3)],
            update_interval=0.2,
        ) as sim,
    ):
        env = Device(pool, link.path, "env1", 1, "pm-th-generic")
        th = Device(pool, link.path, "th3", 3, "th-generic", timeout=1.0, retries=3)
        devices += [env, th]
        env.wait_state("ok")
        th.wait_state("ok")
        sim.set_silent(3)
        th.wait_state("timeout", timeout=15)
        assert "no answer" in (th.driver.last_error or "")
        assert "4 tries" in (th.driver.last_error or "")
        start = len(env.readings)
        env.wait_readings(start + 6, timeout=30)
        assert th.driver.state == "timeout", "still silent"
        gaps = [
            b - a for a, b in zip(env.arrivals[start:], env.arrivals[start + 1 :], strict=False)
        ]
        assert max(gaps) < POLL + 1.0 + 1.5, f"the neighbour waited {max(gaps):.2f} s"
        assert env.driver.state == "ok"
        sim.set_silent(3, False)
        th.wait_state("ok", timeout=15)


def test_requests_on_a_bus_never_overlap(tmp_path: Path, devices: list[Device]) -> None:
    pool = BusPool()
    specs = [
        SimSpec(1, "pm-th-generic"),
        SimSpec(2, "th-generic"),
        SimSpec(3, "road-surface-generic"),
    ]
    with (
        SerialLink(tmp_path / "ttyBUS") as link,
        ModbusBusSim(link.device_path, specs, update_interval=0.2, response_delay=0.03) as sim,
    ):
        for spec in specs:
            devices.append(
                Device(pool, link.path, f"d{spec.unit}", spec.unit, spec.profile, poll_interval=0.2)
            )
        for d in devices:
            d.wait_readings(8, timeout=20)
    assert sum(unit.requests for unit in sim.units.values()) >= 24
    assert sim.max_concurrent == 1, "a request went out while another one was unanswered"


def test_the_emulator_does_see_interleaved_requests(tmp_path: Path) -> None:
    """The check above can fail: a client that does not wait for the answer is caught."""
    with (
        SerialLink(tmp_path / "ttyBUS") as link,
        ModbusBusSim(
            link.device_path,
            [SimSpec(1, "pm-th-generic"), SimSpec(2, "th-generic")],
            response_delay=0.3,
        ) as sim,
        serial.Serial(link.path, 9600, timeout=1) as port,
    ):
        port.write(build_read_request(1, 3, 0, 4))
        time.sleep(0.05)
        port.write(build_read_request(2, 4, 1, 2))
        assert wait_for(lambda: sum(u.requests for u in sim.units.values()) >= 2, 8)
    assert sim.max_concurrent == 2


def raining_seed(profile: str, step_seconds: float) -> int:
    """The first seed whose emulated gauge starts in a shower (deterministic)."""
    for seed in range(1000):
        pattern = RegisterPattern(profile, seed, step_seconds)
        if pattern.shower(pattern.virtual_time(0)) > 20:
            return seed
    raise AssertionError("no raining seed")


def test_every_shipped_profile_is_emulated_and_read_on_one_bus(
    tmp_path: Path, truth: TruthWriter, devices: list[Device]
) -> None:
    """All profiles on one emulated line, each polled by a driver; a rain gauge counting fast
    (one virtual minute per update) from just below its rollover."""
    names = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
    params = {"level-ultrasonic-generic": {"reference": 180.0}}
    rain = "rain-tipping-generic"
    specs = [
        SimSpec(
            unit,
            name,
            raining_seed(name, 60) if name == rain else unit,
            params.get(name, {}),
            name,
            counter_start=65_500 if name == rain else None,
        )
        for unit, name in enumerate(names, start=1)
    ]
    pool = BusPool()
    with (
        SerialLink(tmp_path / "ttyBUS") as link,
        ModbusBusSim(link.device_path, specs, update_interval=0.1, step_seconds=60, truth=truth),
    ):
        for s in specs:
            devices.append(
                Device(pool, link.path, s.sensor_id or "", s.unit, s.profile, params=s.params)
            )
        by_name = {d.config.profile: d for d in devices}
        for d in devices:
            d.wait_readings(6 if d.config.profile == rain else 2, timeout=20)
        gauge = by_name[rain]
        assert wait_for(lambda: gauge.driver.counters.get("rain", 65_500) < 65_500, 20), (
            "the emulated counter wraps"
        )
        gauge.wait_readings(len(gauge.readings) + 2)
    lines = read_truth(tmp_path / "truth.jsonl")
    for d in devices:
        sensor = d.config.id
        assert all(r.measurement == d.driver.profile.measurement for r in d.readings)
        if d.config.profile == rain:
            continue
        known = [t["fields"] for t in lines if t["device"] == sensor]
        for reading in d.readings:
            assert reading.fields in known, f"{sensor}: {reading.fields} not in the truth"
    counts = {t["counters"]["rain"] for t in lines if t["device"] == rain}
    rains = [r.fields["rain"] for r in gauge.readings]
    assert all(v >= 0 and abs(v / 0.2 - round(v / 0.2)) < 1e-6 for v in rains)
    assert sum(rains) > 0
    steps = [round(v / 0.2) for v in rains]
    # Some real count c0 of the gauge, plus the published increases, walks through real counts.
    assert any(
        all((c0 + sum(steps[: i + 1])) % 65_536 in counts for i in range(len(steps)))
        for c0 in counts
    ), "the published rain is the increase of the emulated counter, across the rollover"


def test_a_shared_bus_unplugged_and_back(tmp_path: Path, devices: list[Device]) -> None:
    """Both devices of the bus show unplugged once and recover; the rain gauge's first poll
    after the reconnect publishes nothing (a new baseline), later ones do."""
    pool = BusPool()
    seen: list[tuple[int, set[str]]] = []  # (bus generation, fields) of every rain decode
    with (
        SerialLink(tmp_path / "ttyBUS") as link,
        ModbusBusSim(
            link.device_path,
            [
                SimSpec(1, "pm-th-generic"),
                SimSpec(2, "rain-tipping-generic", raining_seed("rain-tipping-generic", 60)),
            ],
            update_interval=0.1,
            step_seconds=60,
        ),
    ):
        env = Device(pool, link.path, "env1", 1, "pm-th-generic")
        rain = Device(pool, link.path, "rain1", 2, "rain-tipping-generic")
        devices += [env, rain]
        decode = rain.driver.decoder.decode

        def recording(registers: dict[int, int]) -> Any:
            decoded = decode(registers)
            seen.append((rain.driver.bus.generation, set(decoded.fields)))
            return decoded

        rain.driver.decoder.decode = recording  # type: ignore[method-assign]
        rain.wait_readings(2)
        env.wait_state("ok")
        link.unplug()
        env.wait_state("unplugged")
        rain.wait_state("unplugged")
        time.sleep(0.6)
        count = len(rain.readings)
        link.replug()
        env.wait_state("ok")
        rain.wait_state("ok")
        rain.wait_readings(count + 2)
    assert env.driver.errors["unplugged"] == 1
    assert rain.driver.errors["unplugged"] == 1
    generations = [g for g, _ in seen]
    assert generations[0] == 1 and generations[-1] == 2, generations
    for generation in (1, 2):
        fields = [f for g, f in seen if g == generation]
        assert fields[0] == set(), f"generation {generation}: the first poll sets a baseline"
        assert all(f == {"rain"} for f in fields[1:])
