"""A node's firmware version (the profile's ``[info.firmware]``) over real pseudo-terminals: the
emulated node (a pymodbus RTU server) answers the registers with its configured version, the
gateway's ModbusDriver reads them once per opening of the port and reports the version in its
device info; a node without those registers leaves the version unknown and its readings flow."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.devices.modbus import ModbusSensorSim
from simulators.devices.serial_link import SerialLink
from testkit.drivers import wait_for
from tests.gateway.devices.modbus.test_driver import POLL, Running


@pytest.fixture
def link(tmp_path: Path) -> Iterator[SerialLink]:
    with SerialLink(tmp_path / "ttyENV") as link:
        yield link


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Expected failures are logged as one line, never with a traceback."""
    caplog.set_level(logging.INFO, logger="gateway")
    yield
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_the_node_firmware_is_in_the_device_info_read_once(
    link: SerialLink, no_tracebacks: None
) -> None:
    with ModbusSensorSim(link.device_path, "pm-th-generic", firmware="2.7") as sim:
        gw = Running(link.path)
        try:
            gw.wait_readings(4)
            assert gw.driver.info.get("firmware") == "2.7"
        finally:
            gw.close()
        # One request per poll (one block) and one for the version: not read every poll.
        assert sim.units[1].requests == gw.driver.reads + 1


def test_an_ascii_version_on_an_input_register_profile(
    link: SerialLink, no_tracebacks: None
) -> None:
    """th-generic reads its fields with FC 4 and its version (ASCII) from holding registers."""
    with ModbusSensorSim(link.device_path, "th-generic", firmware="TH-1.04"):
        gw = Running(link.path, profile="th-generic")
        try:
            gw.wait_readings(1)
            assert gw.driver.info.get("firmware") == "TH-1.04"
        finally:
            gw.close()


def test_a_node_without_the_registers_has_an_unknown_version(
    link: SerialLink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    with ModbusSensorSim(link.device_path, "pm-th-generic", firmware=None):
        gw = Running(link.path)
        try:
            readings = gw.wait_readings(3)
            gw.wait_state("ok")
        finally:
            gw.close()
    assert "firmware" not in gw.driver.info
    assert all(set(r.fields) == {"pm25", "pm10", "temperature", "humidity"} for r in readings)
    assert gw.driver.errors == {}, "an unknown version is not a device error"
    warnings = [r.getMessage() for r in caplog.records if "firmware version unknown" in r.message]
    assert len(warnings) == 1 and "exception" in warnings[0].lower(), warnings
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_reconnect_reads_the_version_again(link: SerialLink, no_tracebacks: None) -> None:
    """The node is replaced (or reflashed) while the cable is out: after the replug the new
    version is reported; while the port stays open it is not read again."""
    old = ModbusSensorSim(link.device_path, "pm-th-generic", firmware="1.3").start()
    gw = Running(link.path)
    try:
        gw.wait_readings(1)
        assert gw.driver.info.get("firmware") == "1.3"
        link.unplug()
        gw.wait_state("unplugged")
        old.stop()
        with ModbusSensorSim(link.device_path, "pm-th-generic", firmware="1.4"):
            time.sleep(POLL)  # still unplugged: the driver keeps the last known version
            assert gw.driver.info.get("firmware") == "1.3"
            link.replug()
            assert wait_for(lambda: gw.driver.info.get("firmware") == "1.4", 5), gw.driver.info
            gw.wait_state("ok")
    finally:
        gw.close()
        old.stop()


def test_garbage_version_registers_are_unknown_not_a_failure(
    link: SerialLink, caplog: pytest.LogCaptureFixture, no_tracebacks: None
) -> None:
    """A node whose version registers hold no version (0xFFFF 0xFFFF: erased)."""
    with ModbusSensorSim(link.device_path, "pm-th-generic", firmware="65535.65535"):
        gw = Running(link.path)
        try:
            gw.wait_readings(2)
            gw.wait_state("ok")
        finally:
            gw.close()
    assert "firmware" not in gw.driver.info
    assert any("no version (registers 0xffff 0xffff)" in r.message for r in caplog.records)
