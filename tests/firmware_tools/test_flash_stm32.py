"""Flashing an emulated STM32 through the real stm32loader over a pseudo-terminal.

The part is simulators/devices/stm32_boot (AN3155 on a pty); every command byte comes from
stm32loader's own Stm32Bootloader; the emulator's flash is compared with the image.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from firmware_tools.flash import FLASH_BASE, FlashError, flash_stm32
from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot import ChipProfile, Noise, Stm32BootSim
from simulators.devices.stm32_boot.chip import READ_MEMORY, WRITE_MEMORY


def image(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def test_flash_writes_exactly_the_image_and_starts_it(link: SerialLink, claims: Path) -> None:
    data = image(10_001)  # not a multiple of the 256-byte block nor of 4
    address = FLASH_BASE + 2048
    with Stm32BootSim(link) as sim:
        report = flash_stm32(link.path, data, address, parity="N", claims=claims)
        flash = sim.memory
        assert flash.flash_at(address, len(data)) == data
        # only the pages under the image were erased, the rest of the flash is untouched
        assert flash.erased_pages == list(range(2, 2 + 10))
        assert flash.flash_at(FLASH_BASE, 2048) == b"\xff" * 2048
        assert flash.flash_at(address + len(data), 1024) == b"\xff" * 1024
        blocks = -(-len(data) // 256)
        assert sim.bootloader.commands[WRITE_MEMORY] == blocks
        assert sim.bootloader.commands[READ_MEMORY] >= blocks  # the verify read it all back
        assert sim.bootloader.jumped_to == address
    assert report.started and report.retries == 0 and report.chip_id == 0x410
    assert report.flash_kib == 64 and report.size == len(data)
    assert not list(claims.iterdir())  # the port claim is given back


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_line_blocks_are_retried(link: SerialLink, claims: Path, seed: int) -> None:
    data = image(6 * 1024 + 100, seed)
    noise = Noise(byte_error_rate=0.001, nack_rate=0.1, seed=seed)
    with Stm32BootSim(link, ChipProfile(extended_erase=seed == 2), noise) as sim:
        report = flash_stm32(link.path, data, parity="N", timeout=0.3, claims=claims)
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
        assert sim.memory.flash_at(FLASH_BASE + len(data), 64) == b"\xff" * 64
        assert sim.injected.byte_errors > 0 and sim.injected.nacks > 0
    assert report.retries > 0 and report.resyncs > 0


def test_too_big_an_image_is_refused_before_any_write(link: SerialLink, claims: Path) -> None:
    with Stm32BootSim(link) as sim:
        with pytest.raises(FlashError) as caught:
            flash_stm32(link.path, image(64 * 1024 + 4), parity="N", claims=claims)
        assert caught.value.code == "too_big"
        assert sim.memory.writes == 0 and sim.memory.erased_pages == []
    assert "tidak ada yang ditulis" in caught.value.render("id")


def test_no_bootloader_is_said_so(link: SerialLink, claims: Path) -> None:
    # nothing answers on the line (the node is not in its bootloader)
    with pytest.raises(FlashError) as caught:
        flash_stm32(link.path, image(16), parity="N", timeout=0.2, claims=claims)
    assert caught.value.code == "no_bootloader"
    assert "BOOT0" in caught.value.render("id")


def test_bad_address_is_refused(link: SerialLink, claims: Path) -> None:
    with Stm32BootSim(link) as sim, pytest.raises(FlashError, match="0x8000002"):
        flash_stm32(link.path, image(16), FLASH_BASE + 2, parity="N", claims=claims)
    assert sim.memory.writes == 0


def test_a_lost_ack_after_programming_is_not_written_twice(link: SerialLink, claims: Path) -> None:
    """The part programs the 3rd block and its ACK is garbled on the way back: the flasher
    resynchronises, reads the block back, finds it programmed and goes on (writing it again
    would be refused: the flash there is no longer erased)."""
    data = image(2048)
    with Stm32BootSim(link) as sim:
        garbled: list[bytes] = []

        def garble_third_ack(chunk: bytes) -> bytes:
            if sim.memory.writes == 3 and not garbled and chunk == b"\x79":
                garbled.append(chunk)
                return b"\x55"
            return chunk

        link.to_gateway = garble_third_ack
        report = flash_stm32(link.path, data, parity="N", timeout=0.3, claims=claims)
        assert garbled == [b"\x79"]
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
        assert sim.bootloader.commands[WRITE_MEMORY] == 8  # each block written once
    assert report.resyncs == 1 and report.retries == 1 and report.pages_rewritten == 0


def test_verify_rewrites_a_page_that_did_not_keep_its_data(link: SerialLink, claims: Path) -> None:
    """A byte changes in the part after it was written (a weak cell): the verify reads the
    block again, still finds it wrong, erases its page, writes the page back and checks it."""
    data = image(3000)
    with Stm32BootSim(link) as sim:

        def progress(phase: str, done: int, total: int) -> None:
            if phase == "write" and done == total:
                sim.memory.flash[1500] ^= 0x01

        report = flash_stm32(link.path, data, parity="N", claims=claims, progress=progress)
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
        assert sim.memory.erased_pages == [0, 1, 2, 1]  # page 1 (bytes 1024-2047) again
    assert report.pages_rewritten == 1 and report.retries > 0
