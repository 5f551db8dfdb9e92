"""Flashing an emulated ESP32 through esptool's ROM loader (no stub) over a pseudo-terminal.

The part is simulators/devices/esp32_rom (the ROM's serial protocol on a pty); every packet
comes from esptool's own ESP32ROM; the emulator's flash is compared with the image.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from firmware_tools.flash import ESP32_APP_ADDRESS, FlashError, flash_esp32
from gateway.devices.nmea_gps.driver import NmeaGpsConfig, NmeaGpsDriver
from kernel.portclaim import is_claimed
from simulators.devices.esp32_rom import ChipProfile, Esp32RomSim, Noise
from simulators.devices.esp32_rom.protocol import FLASH_DATA, SPI_FLASH_MD5
from simulators.devices.serial_link import SerialLink
from testkit.drivers import in_thread, wait_for


def image(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def test_flash_writes_exactly_the_image_verifies_and_starts_it(
    link: SerialLink, claims: Path
) -> None:
    data = image(10_001)  # not a multiple of the 1 KiB block nor of 4
    with Esp32RomSim(link) as sim:
        report = flash_esp32(link.path, data, claims=claims)
        chip = sim.chip
        assert chip.flash_at(ESP32_APP_ADDRESS, len(data)) == data
        # only the sectors under the image were erased; the rest is untouched
        assert chip.erased_sectors == [0x10, 0x11, 0x12]
        assert chip.flash_at(0, ESP32_APP_ADDRESS) == b"\xff" * ESP32_APP_ADDRESS
        assert chip.flash_at(ESP32_APP_ADDRESS + len(data), 4096) == b"\xff" * 4096
        assert sim.loader.commands[FLASH_DATA] == 10  # each 1 KiB block once
        assert sim.loader.commands[SPI_FLASH_MD5] == 1  # the verify
        assert sim.loader.state == "running"  # FLASH_END: the application was started
        assert sim.loader.flash_params is not None and sim.loader.flash_params[1] == 4 << 20
    assert report.started and report.retries == 0 and report.rewrites == 0
    assert report.chip == "ESP32-D0WD-V3 (revision v3.0)" and report.mac == "24:0a:c4:12:34:56"
    assert report.flash_kib == 4096 and report.size == len(data) and report.blocks == 10
    assert not list(claims.iterdir())  # the port claim is given back


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_line_blocks_are_retried(link: SerialLink, claims: Path, seed: int) -> None:
    data = image(24 * 1024 + 100, seed)
    noise = Noise(byte_error_rate=0.0003, checksum_error_rate=0.15, seed=seed)
    with Esp32RomSim(link, noise=noise) as sim:
        report = flash_esp32(link.path, data, claims=claims, go=False)
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, len(data)) == data
        assert sim.injected.byte_errors > 0 and sim.injected.checksum_errors > 0
        assert sim.loader.state == "download"  # go=False: still in the loader
    assert report.retries > 0 and not report.started


def test_a_block_failing_every_attempt_resumes_from_its_sector(
    link: SerialLink, claims: Path
) -> None:
    """The 7th block is refused three times in a row (all of esptool's own attempts): the
    write starts again at its sector (block 4), which FLASH_BEGIN erases again."""
    data = image(8 * 1024)
    with Esp32RomSim(link) as sim:
        calls = iter(range(100))

        def fault(op: int) -> int:  # blocks 0-5 pass, the next three answers are 0x07
            return 0x07 if 6 <= next(calls) <= 8 else 0

        sim.loader.fault = fault
        report = flash_esp32(link.path, data, claims=claims)
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, len(data)) == data
        assert sim.chip.erased_sectors == [0x10, 0x11, 0x11]
    assert report.retries == 2 + 1 and report.resyncs == 1  # esptool repeats twice, we resume


def test_verify_rewrites_an_image_that_did_not_keep_its_data(
    link: SerialLink, claims: Path
) -> None:
    """A byte changes in the flash after it was written (a weak cell): the MD5 differs every
    time it is read, so the image is written again and checked once more."""
    data = image(5000)
    with Esp32RomSim(link) as sim:

        def progress(phase: str, done: int, total: int) -> None:
            if phase == "write" and done == total and not sim.chip.erased_sectors[2:]:
                sim.chip.flash[ESP32_APP_ADDRESS + 1500] ^= 0x01

        report = flash_esp32(link.path, data, claims=claims, retries=2, progress=progress)
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, len(data)) == data
        assert sim.chip.erased_sectors == [0x10, 0x11, 0x10, 0x11]
        assert sim.loader.commands[SPI_FLASH_MD5] == 3 + 1
    assert report.rewrites == 1 and report.retries == 2


def test_too_big_an_image_is_refused_before_any_erase(link: SerialLink, claims: Path) -> None:
    small = ChipProfile(flash_size=1 << 20, jedec_id=0x14_40C8)  # 1 MiB
    with Esp32RomSim(link, small) as sim:
        with pytest.raises(FlashError) as caught:
            flash_esp32(link.path, image(0xF0001), claims=claims)
        assert caught.value.code == "too_big"
        assert sim.chip.writes == 0 and sim.chip.erased_sectors == []
    assert "tidak ada yang ditulis" in caught.value.render("id")


def test_a_bad_address_is_refused_before_the_line_is_used(link: SerialLink, claims: Path) -> None:
    with Esp32RomSim(link) as sim, pytest.raises(FlashError) as caught:
        flash_esp32(link.path, image(16), 0x10010, claims=claims)
    assert caught.value.code == "esp32_bad_address" and not sim.loader.commands
    assert "0x1000" in caught.value.render("id")


def test_no_loader_is_said_so(link: SerialLink, claims: Path) -> None:
    # nothing answers on the line (the node is running its application, not in download mode)
    with pytest.raises(FlashError) as caught:
        flash_esp32(link.path, image(16), claims=claims)
    assert caught.value.code == "esp32_no_loader"
    assert "GPIO0" in caught.value.render("id") and "GPIO0" in caught.value.render("en")
    assert not list(claims.iterdir())


def test_another_espressif_chip_is_named(link: SerialLink, claims: Path) -> None:
    with Esp32RomSim(link, ChipProfile(magic=0x0000_07C6)) as sim:  # an ESP32-S2's word
        with pytest.raises(FlashError) as caught:
            flash_esp32(link.path, image(16), claims=claims)
        assert sim.chip.writes == 0 and sim.chip.erased_sectors == []
    assert caught.value.code == "esp32_wrong_chip"
    assert "bukan ESP32 (ESP32-S2)" in caught.value.render("id")


def test_a_running_driver_lends_its_port_to_an_esp32_flash(
    link: SerialLink, claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same claim as for an STM32 (kernel/portclaim.py): a real GPS driver on the line lets
    go while the ESP32 is written, and opens its port again afterwards."""
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

    data = image(3000)
    with in_thread(driver), Esp32RomSim(link) as sim:
        assert wait_for(lambda: driver.state != "starting")  # the driver holds the port
        flash_esp32(link.path, data, claims=claims, progress=progress, release_timeout=10)
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, len(data)) == data
        assert seen == ["port_released"]
        assert wait_for(lambda: driver.last_problem is None or driver.state == "timeout", 10)
    assert not is_claimed(link.path, claims)
