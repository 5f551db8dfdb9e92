"""The bus owner on its own: who may share a bus (BusPool), and its I/O against scripted
devices on raw pseudo-terminals (adapter echo, line noise drained, ports gone or refused)."""

from __future__ import annotations

import os
import threading
import time
import tty
from pathlib import Path
from typing import Any

import pytest

from gateway.devices.base import SerialPort
from gateway.devices.modbus.bus import (
    BusPool,
    BusUnavailable,
    BusUnplugged,
    ModbusBus,
    bus_problems,
)
from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.devices.modbus.frames import ModbusFrameError, build_read_request, crc16
from kernel.config import ConfigError

# -- who may share a bus ------------------------------------------------------------------------


def config(ident: str, port: str, unit: int = 1, **serial_keys: Any) -> ModbusConfig:
    return ModbusConfig(
        id=ident,
        driver="modbus",
        serial={"port": port, **serial_keys},
        unit=unit,
        profile="pm-th-generic",
    )


def test_clashing_serial_settings_name_both_devices(tmp_path: Path) -> None:
    pool = BusPool()
    port = str(tmp_path / "ttyBUS")
    first = ModbusDriver(config("env1", port, 1), lambda r: None, pool=pool)
    with pytest.raises(ConfigError) as info:
        ModbusDriver(config("env2", port, 2, baudrate=19200, parity="E"), lambda r: None, pool=pool)
    text = str(info.value)
    assert "devices[id=env2].serial.baudrate = 19200" in text
    assert "devices[id=env2].serial.parity = 'E'" in text
    assert "'env1'" in text and "baudrate = 9600" in text
    with pytest.raises(ConfigError) as info:
        ModbusDriver(config("env3", port, 1), lambda r: None, pool=pool)
    assert "devices[id=env3].unit = 1" in str(info.value)
    assert "'env1'" in str(info.value)
    ok = ModbusDriver(config("env4", port, 4, timeout=2.5), lambda r: None, pool=pool)
    assert ok.bus is first.bus, "the timeout is per device"


def test_a_symlink_to_the_same_port_is_the_same_bus(tmp_path: Path) -> None:
    pool = BusPool()
    real = tmp_path / "ttyUSB0"
    real.write_text("")
    alias = tmp_path / "usb-FTDI_RS485-if00-port0"
    alias.symlink_to(real)
    first = ModbusDriver(config("env1", str(real), 1), lambda r: None, pool=pool)
    second = ModbusDriver(config("env2", str(alias), 2), lambda r: None, pool=pool)
    assert first.bus is second.bus
    with pytest.raises(ConfigError, match="stopbits"):
        ModbusDriver(config("env3", str(alias), 3, stopbits=2), lambda r: None, pool=pool)


def test_devices_that_left_the_bus_no_longer_clash(tmp_path: Path) -> None:
    """A driver leaves its bus when its run() ends (a stopped gateway); another config for the
    same port in the same process then takes the bus with its own settings."""
    pool = BusPool()
    port = str(tmp_path / "ttyBUS")
    old = ModbusDriver(config("env1", port, 1), lambda r: None, pool=pool)
    stop = threading.Event()
    stop.set()
    old.run(stop)  # returns at once and leaves the bus
    new = ModbusDriver(config("env2", port, 1, baudrate=19200), lambda r: None, pool=pool)
    assert new.bus.serial_port.baudrate == 19200


# -- the bus owner's I/O against a scripted device ----------------------------------------------


class ScriptedDevice:
    """A raw pty pair: the bus opens the slave; a thread on the master reads each request and
    plays the scripted bytes back (with pauses), like a device or an adapter would."""

    def __init__(self, script: list[list[bytes | float]]) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._play, args=(script,), daemon=True)
        self.thread.start()

    def _play(self, script: list[list[bytes | float]]) -> None:
        for steps in script:
            request = b""
            while len(request) < 8:  # read requests are 8 bytes
                try:
                    request += os.read(self.master, 64)
                except OSError:  # closed by a failing test: nothing more to play
                    return
            self.requests.append(request)
            for step in steps:
                if isinstance(step, float):
                    time.sleep(step)
                else:
                    os.write(self.master, request if step == b"ECHO" else step)

    def close(self) -> None:
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)


def frame(*data: int) -> bytes:
    body = bytes(data)
    return body + crc16(body).to_bytes(2, "big")


def test_an_adapter_echo_is_dropped() -> None:
    answer = frame(4, 3, 2, 0x01, 0x2C)
    device = ScriptedDevice([[b"ECHO", 0.02, answer], [b"ECHO", answer]])
    bus = ModbusBus(SerialPort(port=device.path))
    try:
        assert bus.read_registers(4, 3, 0, 1, timeout=2.0) == [300]
        assert bus.read_registers(4, 3, 0, 1, timeout=2.0) == [300]
    finally:
        bus.close()
        device.close()
    assert device.requests == [build_read_request(4, 3, 0, 1)] * 2


def test_the_rest_of_a_damaged_answer_never_reaches_the_next_exchange() -> None:
    """Line noise in bursts: the bus sees garbage at once, but drains the line until it is
    quiet before it is free, so the next device's answer is read clean."""
    noise = [bytes.fromhex("ff 7e 00 13"), 0.03, bytes.fromhex("55 aa 21 0d"), 0.03, b"\xff"]
    device = ScriptedDevice([noise, [frame(2, 3, 2, 0x00, 0x2A)], [frame(3, 0x83, 2)]])
    bus = ModbusBus(SerialPort(port=device.path))
    try:
        with pytest.raises(ModbusFrameError) as info:
            bus.read_registers(1, 3, 0, 4, timeout=1.0)
        assert info.value.reason == "garbage"
        assert bus.read_registers(2, 3, 0, 1, timeout=2.0) == [42]
        with pytest.raises(ModbusFrameError) as info:
            bus.read_registers(3, 3, 0, 1, timeout=2.0)
        assert "illegal data address" in str(info.value)
    finally:
        bus.close()
        device.close()


def test_a_port_that_is_gone_or_will_not_open(tmp_path: Path) -> None:
    bus = ModbusBus(SerialPort(port=str(tmp_path / "ttyUSB9")))
    with pytest.raises(BusUnplugged, match="does not exist"):
        bus.read_registers(1, 3, 0, 1, timeout=0.2)
    not_a_tty = tmp_path / "ttyUSB0"
    not_a_tty.write_text("")
    bus = ModbusBus(SerialPort(port=str(not_a_tty)))
    with pytest.raises(BusUnavailable, match="cannot open"):
        bus.read_registers(1, 3, 0, 1, timeout=0.2)
    assert bus.generation == 0


# -- devices sharing a port, checked with the whole config --------------------------------------


def device(ident: str, port: str, unit: int = 1, driver: str = "modbus", **serial: Any) -> Any:
    if driver == "modbus":
        return ModbusConfig(
            id=ident,
            driver="modbus",
            serial={"port": port, **serial},
            unit=unit,
            profile="pm-th-generic",
        )
    from gateway.devices.traffic_counter.driver import TrafficCounterConfig

    return TrafficCounterConfig(id=ident, driver=driver, serial={"port": port, **serial})


def test_bus_problems_across_devices(tmp_path: Path) -> None:
    ok = [
        device("env1", "/dev/ttyUSB0", 1),
        device("env2", "/dev/ttyUSB0", 2, timeout=2.0),
        device("env3", "/dev/ttyUSB1", 1, baudrate=19200),
    ]
    assert bus_problems(ok) == []
    problems = bus_problems(
        [
            device("env1", "/dev/ttyUSB0", 1),
            device("env2", "/dev/ttyUSB0", 2, baudrate=19200),
            device("env3", "/dev/ttyUSB0", 1),
            device("cnt1", "/dev/ttyUSB0", driver="traffic_counter"),
        ]
    )
    keys = [(key, value) for key, value, _ in problems]
    assert keys == [
        ("devices[1].serial.baudrate", 19200),
        ("devices[2].unit", 1),  # env1's unit
        ("devices[2].serial.baudrate", 9600),  # differs from env2's
        ("devices[3].serial.port", "/dev/ttyUSB0"),
    ]
    messages = [message for _, _, message in problems]
    assert "device 'env2' shares the bus /dev/ttyUSB0 with device 'env1'" in messages[0]
    assert "device 'env3' is unit 1 on /dev/ttyUSB0, like device 'env1'" in messages[1]
    assert "only Modbus devices can share a port" in messages[3]


def test_bus_problems_see_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "ttyUSB0"
    real.write_text("")
    alias = tmp_path / "by-id-port0"
    alias.symlink_to(real)
    problems = bus_problems([device("a", str(real), 1), device("b", str(alias), 1)])
    assert [key for key, _, _ in problems] == ["devices[1].unit"]
