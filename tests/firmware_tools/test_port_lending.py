"""The gateway lends a node's serial port to a flashing run and takes it back
(kernel/portclaim.py): a real GPS driver and a real Modbus bus on pseudo-terminals, the real
stm32loader flashing the emulated STM32 on the same line while the driver runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_tools.flash import FLASH_BASE, FlashError, flash_stm32
from gateway.devices.base import SerialPort
from gateway.devices.modbus.bus import BusUnavailable, ModbusBus
from gateway.devices.nmea_gps.driver import NmeaGpsConfig, NmeaGpsDriver
from kernel.portclaim import PortClaimed, claim_path, claim_port, is_claimed
from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot import Stm32BootSim
from testkit import children
from testkit.drivers import in_thread, wait_for


def test_a_running_driver_lends_its_port_for_flashing(
    link: SerialLink, claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))
    config = NmeaGpsConfig.model_validate(
        {
            "id": "node1",
            "driver": "nmea_gps",
            "serial": {"port": link.path, "baudrate": 115200, "timeout": 0.5},
            "reopen_interval": 0.1,
        }
    )
    driver = NmeaGpsDriver(config, lambda readings: None)
    seen: list[str | None] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "write" and done == 1:
            seen.append(driver.last_problem[0] if driver.last_problem else None)

    data = os.urandom(3000)
    with in_thread(driver), Stm32BootSim(link) as sim:
        assert wait_for(lambda: driver.state != "starting")  # the driver holds the port
        report = flash_stm32(
            link.path, data, parity="N", claims=claims, progress=progress, release_timeout=10
        )
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
        assert report.started
        assert seen == ["port_released"]  # the driver had let go while the flash was written
        # the claim is gone and the driver opens its port again
        assert wait_for(lambda: driver.last_problem is None or driver.state == "timeout", 10)
    assert not is_claimed(link.path, claims)


def test_a_modbus_bus_closes_on_a_claim(link: SerialLink, claims: Path) -> None:
    bus = ModbusBus(SerialPort(port=link.path, baudrate=115200, timeout=0.1))
    bus.claims = claims
    bus._open()
    assert bus.is_open
    with claim_port(link.path, claims, by="test"):
        with pytest.raises(BusUnavailable) as caught:
            bus.read_registers(1, 3, 0, 1, 0.1)
        assert caught.value.problem == ("port_released", {"port": link.path, "by": "test"})
        assert not bus.is_open
    bus.close()


def test_claims(tmp_path: Path, claims: Path) -> None:
    port = str(tmp_path / "ttyX")
    Path(port).write_text("")
    with claim_port(port, claims, by="laptop"):
        assert is_claimed(port, claims)
        with pytest.raises(PortClaimed, match="laptop"):
            claim_port(port, claims, by="other").__enter__()
    assert not is_claimed(port, claims)
    # a claim left by a process that died counts as none, and is replaced
    dead = children.start([sys.executable, "-c", ""])
    dead.wait()
    claims.mkdir(exist_ok=True)
    claim_path(port, claims).write_text(f'{{"pid": {dead.pid}, "by": "crashed"}}')
    assert not is_claimed(port, claims)
    with claim_port(port, claims, by="laptop"):
        assert is_claimed(port, claims)


def test_a_port_held_without_a_claim_is_reported(link: SerialLink, claims: Path) -> None:
    import serial

    holder = serial.Serial(link.path, 115200, exclusive=True)
    try:
        with pytest.raises(FlashError) as caught:
            flash_stm32(link.path, b"1234", parity="N", claims=claims, release_timeout=0.5)
        assert caught.value.code == "port_busy"
    finally:
        holder.close()


def test_no_writable_claims_folder_flashes_without_a_claim(
    link: SerialLink, tmp_path: Path
) -> None:
    """A laptop without /run/jagajalan: no gateway reads the port through a claim there, so
    the run goes on (the exclusive open still protects the port)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    data = os.urandom(600)
    with Stm32BootSim(link) as sim:
        report = flash_stm32(link.path, data, parity="N", claims=blocker / "claims")
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
    assert report.started


def test_the_flash_command_in_another_process_borrows_the_port(
    link: SerialLink, claims: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a gateway: the driver runs in the gateway's process, a technician runs
    `jagajalan firmware flash` in another; they meet only through the claims folder."""
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))
    config = NmeaGpsConfig.model_validate(
        {
            "id": "node1",
            "driver": "nmea_gps",
            "serial": {"port": link.path, "baudrate": 115200, "timeout": 0.5},
            "reopen_interval": 0.1,
        }
    )
    driver = NmeaGpsDriver(config, lambda readings: None)
    data = os.urandom(4000)
    (tmp_path / "node.bin").write_bytes(data)
    command = [sys.executable, "-m", "jagajalan.cli", "firmware", "flash", "--port", link.path]
    command += ["--parity", "N", "--quiet", "--lang", "en", str(tmp_path / "node.bin")]
    with in_thread(driver), Stm32BootSim(link) as sim:
        assert wait_for(lambda: driver.state != "starting")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Done: 4000 bytes at 0x08000000 written and verified" in done.stdout
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
        assert driver.errors.get("error", 0) >= 1  # it reported the port lent
        assert wait_for(lambda: driver.last_problem is None or driver.state == "timeout", 10)
