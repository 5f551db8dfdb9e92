"""Emulated lines answer only at their settings (simulators/devices/serial_link.py), over real
pseudo-terminals: what a pty conveys of the settings the gateway's own port opening applies,
a Modbus sensor and a GPS at the wrong baud rate or parity, and the settings `simulate
devices` gives each line and writes into the config."""

from __future__ import annotations

import os
import termios
import threading
import time
import tomllib
from pathlib import Path

import pytest
import serial

from gateway.devices.modbus.frames import ModbusFrameError, build_read_request, parse_read_response
from gateway.devices.nmea_gps.driver import NmeaGpsConfig, NmeaGpsDriver
from simulators.devices.cabinet import (
    DeviceOptions,
    parse_line_option,
    start_gateway_devices,
    stop_gateway_devices,
)
from simulators.devices.gps import GpsSim
from simulators.devices.modbus import ModbusSensorSim
from simulators.devices.serial_link import Line, SerialLink
from simulators.sites import site


def read_once(port: str, baud: int, parity: str = "N") -> bytes:
    """One Modbus read request to unit 1 from a gateway side set to *baud* and *parity*; the
    bytes that come back within 0.5 s."""
    with serial.Serial(port, baudrate=baud, parity=parity, timeout=0.5) as ser:
        ser.write(build_read_request(1, 3, 0, 4))
        return ser.read(13)


def valid(answer: bytes) -> bool:
    try:
        parse_read_response(answer, 1, 3, 4)
    except ModbusFrameError:
        return False
    return True


def test_a_pty_conveys_the_speed_stop_bits_and_odd_parity_the_gateway_applies(
    tmp_path: Path,
) -> None:
    """The gateway's own port opening (SerialSessionDriver.open_port, as every serial driver
    opens its port) lands on the pty: speed, CSTOPB and PARODD are there; PARENB and the data
    bits are not (the Linux pty driver clears them), as docs/simulators.md says."""
    with SerialLink(tmp_path / "ttyGPS") as link:
        serial_port = {"port": link.path, "baudrate": 19200, "parity": "O", "stopbits": 2}
        config = NmeaGpsConfig.model_validate(
            {"id": "gps1", "driver": "nmea_gps", "serial": serial_port}
        )
        port = NmeaGpsDriver(config, lambda readings: None).open_port()
        assert port is not None
        try:
            attrs = termios.tcgetattr(port.fileno())
        finally:
            port.close()
    assert attrs[4] == attrs[5] == termios.B19200
    assert attrs[2] & termios.CSTOPB
    assert attrs[2] & termios.PARODD
    assert not attrs[2] & termios.PARENB  # parity enable: dropped by the pty
    assert attrs[2] & termios.CSIZE == termios.CS8


def test_modbus_sensor_answers_only_at_its_baud_rate_and_parity(tmp_path: Path) -> None:
    with (
        SerialLink(tmp_path / "ttyBUS", 19200) as link,
        ModbusSensorSim(link.device_path, "pm-th-generic"),
    ):
        assert valid(read_once(link.path, 19200))
        for baud in (9600, 38400, 115200):
            assert not valid(read_once(link.path, baud)), baud
        assert not valid(read_once(link.path, 19200, "O"))  # wrong parity
        garbled = link.garbled
        assert valid(read_once(link.path, 19200))  # the device is not left confused
    assert garbled >= 4


def test_gps_at_the_wrong_baud_rate_is_garbage(tmp_path: Path) -> None:
    """A device that talks on its own (NMEA every second) reaches a gateway at the wrong
    speed as garbage: the real driver sees bytes but never a sentence."""
    with SerialLink(tmp_path / "ttyGPS", 9600) as link, GpsSim(link.device_path):
        for baud, good in ((4800, False), (9600, True)):
            config = NmeaGpsConfig.model_validate(
                {
                    "id": "gps1",
                    "driver": "nmea_gps",
                    "serial": {"port": link.path, "baudrate": baud},
                }
            )
            driver = NmeaGpsDriver(config, lambda readings: None)
            stop = threading.Event()
            thread = threading.Thread(target=driver.run, args=(stop,), daemon=True)
            thread.start()
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and "clock_offset" not in driver.info:
                time.sleep(0.05)
            stop.set()
            thread.join(5)
            assert ("clock_offset" in driver.info) == good, (baud, driver.state)
            if not good:
                assert link.garbled > 0


def test_line_settings_and_their_limits() -> None:
    assert Line.parse("19200") == Line(19200, "8N1")
    assert Line.parse("9600,8n2") == Line(9600, "8N2")
    assert str(Line(4800)) == "4800 8N1"
    with pytest.raises(ValueError, match="pyserial cannot use parity"):
        Line.parse("9600,8E1")
    with pytest.raises(ValueError, match="baud"):
        Line.parse("fast")
    with pytest.raises(ValueError, match="termios"):
        Line(12345)
    assert parse_line_option("env1=19200", "basic") == ("env1", Line(19200))
    assert parse_line_option("wl1=4800", "all") == ("rs485", Line(4800))  # a bus sensor
    with pytest.raises(ValueError, match="lines of --devices basic: env1, cnt1"):
        parse_line_option("wx1=9600", "basic")


def test_simulate_devices_gives_usual_settings_and_writes_them(tmp_path: Path) -> None:
    opts = DeviceOptions(devices="all", lines={"cnt1": Line(19200)})
    gw = start_gateway_devices(site("srl-pasar-01"), tmp_path, opts, None)
    try:
        lines = {name: link.line for name, link in gw.links.items()}
        text = gw.config_path.read_text()
    finally:
        stop_gateway_devices(gw)
    assert lines == {
        "rs485": Line(9600),
        "cnt1": Line(19200),  # as asked
        "wx1": Line(19200),  # a WXT5xx's factory setting
        "gps1": Line(9600),
    }
    serial_of = {d["id"]: d["serial"] for d in tomllib.loads(text)["devices"]}
    assert serial_of["cnt1"]["baudrate"] == 19200 and serial_of["wx1"]["baudrate"] == 19200
    assert serial_of["env1"] == {
        "port": "srl-pasar-01-rs485",
        "baudrate": 9600,
        "bytesize": 8,
        "parity": "N",
        "stopbits": 1,
        "timeout": 0.5,
    }
    assert not os.path.isabs(serial_of["gps1"]["port"])
