"""Fault injection against the real drivers: for each fault kind, the driver reports it (a
device state), keeps running, and the good readings around the fault window still arrive and
match the ground truth; the fault itself is logged in the truth file with its window."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulators.devices.faults import Fault, FaultInjector, Target, parse_fault
from simulators.devices.serial_link import SerialLink
from testkit.cabinet import Cabinet, wait_for

START, DURATION = 2.0, 2.5  # seconds after the devices start
#: The traffic counter publishes once a whole (2 s) interval is in: start its faults later.
LATE_START = {"cnt1": 7.5}

#: (device, kind, arg, the state the driver must report during the window)
CASES = [
    ("env1", "crc_error", None, "crc_error"),
    ("env1", "garbage", None, "crc_error"),
    ("env1", "truncated", None, "crc_error"),
    ("env1", "slow", "0.8", "timeout"),
    ("env1", "timeout", None, "timeout"),
    ("env1", "unplug", None, "unplugged"),
    ("env1", "out_of_range", "pm25", "decode_error"),
    ("wl1", "crc_error", None, "crc_error"),
    ("wx1", "crc_error", None, "decode_error"),
    ("wx1", "garbage", None, "decode_error"),
    ("wx1", "timeout", None, "timeout"),
    ("wx1", "out_of_range", "temperature", "decode_error"),
    ("cnt1", "garbage", None, "decode_error"),
    ("cnt1", "truncated", None, "decode_error"),
    ("cnt1", "unplug", None, "unplugged"),
    ("gps1", "crc_error", None, "decode_error"),
    ("gps1", "truncated", None, "decode_error"),
]


def _match_truth(cab: Cabinet, device: str, readings) -> None:
    """Every published reading of a Modbus or weather device is one the emulator sent."""
    if device in ("env1", "wl1"):
        sent = [r["fields"] for r in cab.records("modbus_values", device)]
        for reading in readings:
            assert reading.fields in sent, reading
    elif device == "wx1":
        sent = [
            {k: r[k] for k in ("temperature", "humidity", "pressure")}
            for r in cab.records("weather_values", device)
        ]
        for reading in readings:
            got = {k: reading.fields[k] for k in ("temperature", "humidity", "pressure")}
            assert got in sent, reading


@pytest.mark.parametrize(("device", "kind", "arg", "state"), CASES, ids=lambda v: str(v))
def test_the_driver_reports_the_fault_and_recovers(
    tmp_path: Path, device: str, kind: str, arg: str | None, state: str
) -> None:
    start = LATE_START.get(device, START)
    fault = Fault(device, kind, start, DURATION, arg)
    with Cabinet(tmp_path, faults=[fault], only=[device]) as cab:
        driver = cab.drivers[device]
        assert wait_for(lambda: driver.state == "ok", 8), (driver.state, driver.last_error)
        start_ms = (cab.origin + start) * 1000
        end_ms = (cab.origin + start + DURATION) * 1000
        before = driver.errors.get(state, 0)
        assert time.time() < cab.origin + start, "the devices took too long to start"
        # a state is counted when entered: a transient one (a bad line between good ones)
        # shows in the count even if it is over before anyone looks
        seen = cab.states_seen(device, cab.origin + start + DURATION + 0.3 - time.time())
        assert driver.errors.get(state, 0) > before, (seen, driver.errors, driver.last_error)
        # keeps running and is fine again after the window
        assert wait_for(lambda: driver.state == "ok", 10), (driver.state, driver.last_error)
        if device != "gps1":
            assert wait_for(lambda: any(r.time > end_ms + 500 for r in cab.readings[device]), 10)
        else:
            assert driver.info.get("fix") is True
    readings = cab.readings[device]
    if device != "gps1":
        assert any(r.time < start_ms for r in readings), "no reading before the fault"
        good = [r for r in readings if r.time < start_ms or r.time > end_ms + 500]
        _match_truth(cab, device, good)
    [logged] = cab.records("fault", device)
    assert logged["fault"] == kind and logged["arg"] == arg
    assert abs(logged["start"] - start_ms) < 500
    assert abs(logged["end"] - end_ms) < 500


def test_stuck_values_repeat_what_was_sent_at_the_start(tmp_path: Path) -> None:
    fault = Fault("env1", "stuck", START, DURATION)
    with Cabinet(tmp_path, faults=[fault], only=["env1"]) as cab:
        assert wait_for(lambda: len(cab.records("fault", "env1")) == 1, 15)
        end_ms = (cab.origin + START + DURATION) * 1000
        assert wait_for(lambda: any(r.time > end_ms + 800 for r in cab.readings["env1"]), 10)
    start_ms = (cab.origin + START) * 1000
    inside = [r.fields for r in cab.readings["env1"] if start_ms + 400 < r.time < end_ms - 100]
    assert len(inside) >= 3
    assert all(f == inside[0] for f in inside), inside
    outside = [r.fields for r in cab.readings["env1"] if r.time < start_ms or r.time > end_ms + 800]
    assert len({tuple(sorted(f.items())) for f in outside}) > 1, "values move outside the fault"


def test_gps_clock_drift_shows_in_the_clock_offset(tmp_path: Path) -> None:
    fault = parse_fault("gps1:clock_drift=30@4s+6s")
    with Cabinet(tmp_path, faults=[fault], only=["gps1"]) as cab:
        gps = cab.drivers["gps1"]
        assert wait_for(lambda: gps.info.get("clock_offset") is not None, 8), gps.info
        assert abs(gps.info["clock_offset"]) < 1.5
        assert wait_for(lambda: (gps.info.get("clock_offset") or 0) < -28, 12), gps.info
        assert gps.state == "ok"
    [logged] = cab.records("fault", "gps1")
    assert logged["fault"] == "clock_drift" and logged["arg"] == "30"
    drifted = [r for r in cab.records("gps_fix", "gps1") if r["clock_drift"] == 30.0]
    # (the epoch being sent when the drift began may still carry the old time)
    assert sum(r["time"] - r["sent"] > 29_000 for r in drifted) >= 1, drifted


def test_fault_specs_and_problems() -> None:
    assert parse_fault("env1:crc_error@30s+10s") == Fault("env1", "crc_error", 30.0, 10.0)
    assert parse_fault("srl-pasar-01/gps1:clock_drift=-12.5@1m+2h") == Fault(
        "srl-pasar-01/gps1", "clock_drift", 60.0, 7200.0, "-12.5"
    )
    for bad in ("env1:crc_error", "env1:melted@1s+1s", "env1:slow=fast@1s+1s", "env1:stuck@1s+0s"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_byte_faults_are_seeded_and_touch_only_the_faulty_unit(tmp_path: Path) -> None:
    answer_1 = bytes.fromhex("010308") + bytes(range(8)) + b"\x12\x34"
    answer_2 = bytes([2]) + answer_1[1:]
    outputs = []
    for _ in range(2):
        with SerialLink(tmp_path / "ttyBUS") as link:
            faults = [Fault("pm", "garbage", 0, 60), Fault("pm", "crc_error", 0, 60)]
            injector = FaultInjector(faults, [Target("pm", link, unit=1), Target("lvl", link, 2)])
            injector.update()
            outputs.append([link.to_gateway(answer_1) for _ in range(3)])
            assert link.to_gateway(answer_2) == answer_2
            injector.stop()
    assert outputs[0] == outputs[1]
    for out in outputs[0]:
        junk, _, frame = out.partition(b"\r\n")
        assert junk and all(b >= 0x80 for b in junk)
        assert len(frame) == len(answer_1) and frame != answer_1
