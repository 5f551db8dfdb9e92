"""The GPS path over real serial I/O: simulator -> pty pair -> pyserial -> driver.

Each test runs the emulated GPS module (:class:`GpsSim`, 1 Hz RMC+GGA+GSA) on the device side
of a :class:`SerialLink` and the real :class:`NmeaGpsDriver` on the gateway side, each in its
own thread, in real time. Position, fix and satellites are checked against the simulator's
truth; the clock offset against the drift the simulator was given (both sides use the same
machine clock, so the true offset is exactly minus the drift).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.devices import DRIVERS
from gateway.devices.nmea_gps.driver import NmeaGpsConfig, NmeaGpsDriver
from gateway.devices.nmea_gps.protocol import WEEK_ROLLOVER_S, format_rmc, frame
from simulators.devices.gps import GpsSim
from simulators.devices.serial_link import SerialLink
from simulators.truth import TruthWriter, read_truth
from testkit.drivers import Collector, in_thread, wait_for

#: The offset estimate is off by the line's transmission time at 9600 baud (a pty has none)
#: minus the simulator's output delay: well under this.
OFFSET_TOLERANCE = 0.5


@contextmanager
def running_driver(link: SerialLink, sink: Collector, **overrides) -> Iterator[NmeaGpsDriver]:
    config = NmeaGpsConfig.model_validate(
        {
            "id": "gps1",
            "driver": "nmea_gps",
            "serial": {"port": link.path, "baudrate": 9600, "timeout": 0.5},
            "reopen_interval": 0.1,
            **overrides,
        }
    )
    driver = NmeaGpsDriver(config, sink)
    with in_thread(driver):
        yield driver


def test_registered() -> None:
    assert DRIVERS["nmea_gps"] == (NmeaGpsConfig, NmeaGpsDriver)


def test_position_fix_and_clock_match_truth(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.device.gps1")
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, sink, position_interval=1) as driver,
        GpsSim(link.device_path, seed=1, altitude=41.5, satellites=11, truth=truth) as sim,
    ):
        assert wait_for(lambda: "clock_offset" in driver.info, 8), driver.info
        sim.silent = True  # freeze: the last epoch sent is the one the driver saw last
        sent = sim.sent
        assert wait_for(lambda: driver.sentences >= 2 * sent, 3)
        info, state = dict(driver.info), driver.state
        assert wait_for(lambda: len(sink.snapshot()) >= 2, 4)
    truth.close()
    last = read_truth(truth_path)[-1]
    assert state == "ok" and driver.errors == {} and driver.decode_errors == {}
    assert info["fix"] is True and info["satellites"] == 11
    position = info["position"]
    assert position["latitude"] == pytest.approx(last["latitude"], abs=2e-6)
    assert position["longitude"] == pytest.approx(last["longitude"], abs=2e-6)
    assert position["altitude"] == 41.5
    assert abs(info["clock_offset"]) < OFFSET_TOLERANCE
    assert driver.ignored == sent  # one GSA per epoch, good but unused
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    # gateway_position readings: where the gateway is, and how far off its clock is.
    readings = sink.snapshot()
    assert {r.measurement for r in readings} == {"gateway_position"}
    for reading in readings:
        assert reading.fields["latitude"] == pytest.approx(-2.30, abs=1e-3)
        assert reading.fields["longitude"] == pytest.approx(102.70, abs=1e-3)
        assert reading.fields["satellites"] == 11 and reading.fields["altitude"] == 41.5


def test_clock_drift_is_reported_as_negative_offset_and_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GPS time = real time + 30 s, so the gateway clock is 30 s behind: offset about -30."""
    caplog.set_level(logging.INFO, logger="gateway.device.gps1")
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, sink) as driver,
        GpsSim(link.device_path, clock_drift=30.0),
    ):
        assert wait_for(lambda: "clock_offset" in driver.info, 8), driver.info
        offset = driver.info["clock_offset"]
        assert wait_for(lambda: any(r.levelno == logging.WARNING for r in caplog.records), 2)
    assert offset == pytest.approx(-30.0, abs=OFFSET_TOLERANCE)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, not every second
    assert "gateway clock is -30.0 s off GPS time" in warnings[0]
    assert driver.state == "ok"
    assert sink.snapshot() == []  # gateway_position readings are off by default


def test_gps_week_rollover_is_not_taken_for_a_wrong_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.device.gps1")
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, Collector()) as driver,
        GpsSim(link.device_path, clock_drift=-WEEK_ROLLOVER_S),  # an old module: 19.6 years ago
    ):
        assert wait_for(lambda: driver.info.get("gps_week_rollover") is True, 8), driver.info
        info = dict(driver.info)
    assert "clock_offset" not in info
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1024-week rollovers" in warnings[0]


def test_no_fix_is_ok_with_fix_false_until_the_fix_comes(tmp_path: Path) -> None:
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, sink, position_interval=1) as driver,
        GpsSim(link.device_path, fix=False) as sim,
    ):
        assert wait_for(lambda: driver.sentences >= 4, 6)
        assert driver.state == "ok"
        assert driver.info["fix"] is False
        assert driver.info["satellites"] <= 3
        assert "position" not in driver.info and "clock_offset" not in driver.info
        time.sleep(1.2)
        assert sink.snapshot() == []  # no position reading without a fix
        sim.fix = True
        assert wait_for(lambda: driver.info.get("fix") is True, 4), driver.info
        assert driver.info["position"]["latitude"] == pytest.approx(-2.30, abs=1e-3)
        assert wait_for(lambda: len(sink.snapshot()) >= 1, 4)


def test_garbage_and_bad_checksums_are_decode_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.device.gps1")
    sink = Collector()
    good = format_rmc(int(time.time()) * 1000, -2.3, 102.7)
    bad = [
        b"\x00\xff\xfe\x13 line noise \x07\r\n",  # format
        good[:-4] + (b"01" if good[-4:-2] == b"00" else b"00") + b"\r\n",  # checksum
        b"$GPGGA,083015.00,0217.99581,S,1024",  # truncated: the next '$' cuts it off
        frame("GPRMC,083015.00,A,,,,,0.0,,301126,,,A"),  # field: a fix without a position
    ]
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, sink) as driver,
    ):
        sim = GpsSim(link.device_path)
        sim.silent = True
        # The port open (state "ok") before the first byte: what came before the open would be
        # the driver's first, partial line (a CI run under load sent the noise line too early).
        assert wait_for(lambda: driver.state == "ok", 10), driver.state
        with sim:
            sim.send_raw(b"\r\n")  # in sync
            for number, data in enumerate(bad, 1):
                sim.send_raw(data)
                if number != 3:  # the truncated one is cut off by what follows
                    assert wait_for(lambda n=number: driver.lines >= n, 10), data
                    assert driver.state == "decode_error"
            sim.silent = False
            assert wait_for(lambda: driver.state == "ok", 4), driver.state
    assert driver.decode_errors == {"format": 2, "checksum": 1, "field": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert any("checksum does not match" in m for m in messages)
    assert any("fix without a position" in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)


def test_unplug_and_replug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.device.gps1")
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, Collector()) as driver,
        GpsSim(link.device_path),
    ):
        assert wait_for(lambda: driver.sentences >= 2, 4)
        link.unplug()
        assert wait_for(lambda: driver.state == "unplugged", 3), driver.state
        before = driver.sentences
        link.replug()
        assert wait_for(lambda: driver.state == "ok", 3), driver.state
        assert wait_for(lambda: driver.sentences >= before + 2, 4)
        assert driver.info["fix"] is True
    messages = [r.getMessage() for r in caplog.records]
    assert any("ok (was unplugged)" in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)


def test_silence_is_timeout(tmp_path: Path) -> None:
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        running_driver(link, Collector(), silence_timeout=1.0) as driver,
        GpsSim(link.device_path) as sim,
    ):
        assert wait_for(lambda: driver.sentences >= 2, 4)
        sim.silent = True
        assert wait_for(lambda: driver.state == "timeout", 4), driver.state
        assert driver.last_error == "no data for 1 s"
        sim.silent = False
        assert wait_for(lambda: driver.state == "ok", 4), driver.state
