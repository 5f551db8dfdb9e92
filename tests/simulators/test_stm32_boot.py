"""The AN3155 bootloader emulator's pure core: framing, checksums, flash rules, faults."""

from __future__ import annotations

from functools import reduce
from operator import xor

import pytest

from simulators.devices.stm32_boot import Bootloader, ChipProfile, Noise
from simulators.devices.stm32_boot.chip import ACK, NACK

FLASH = 0x0800_0000


def cmd(code: int) -> bytes:
    return bytes([code, code ^ 0xFF])


def addr(a: int) -> bytes:
    raw = a.to_bytes(4, "big")
    return raw + bytes([reduce(xor, raw)])


def synced(chip: ChipProfile | None = None, **kw: object) -> Bootloader:
    boot = Bootloader(chip, **kw)  # type: ignore[arg-type]
    assert boot.feed(b"\x00\x7f") == bytes([ACK])  # noise before 0x7F is ignored
    return boot


def write(boot: Bootloader, address: int, data: bytes) -> bytes:
    n = len(data) - 1
    return boot.feed(cmd(0x31) + addr(address) + bytes([n]) + data + bytes([reduce(xor, data, n)]))


def test_get_lists_the_commands_and_erase_kind() -> None:
    boot = synced()
    assert boot.feed(cmd(0x00)) == bytes([ACK, 7, 0x22, 0, 1, 2, 0x11, 0x21, 0x31, 0x43, ACK])
    ext = synced(ChipProfile(extended_erase=True))
    assert ext.feed(cmd(0x00))[-2] == 0x44
    assert boot.feed(cmd(0x02)) == bytes([ACK, 1, 0x04, 0x10, ACK])
    assert boot.feed(cmd(0x01)) == bytes([ACK, 0x22, 0, 0, ACK])


def test_a_second_sync_byte_is_a_bad_command() -> None:
    boot = synced()
    assert boot.feed(b"\x7f\x7f") == bytes([NACK])
    assert boot.feed(cmd(0x44)) == bytes([NACK])  # not offered by this part


def test_write_read_and_the_flash_rule() -> None:
    boot = synced()
    assert write(boot, FLASH + 8, b"\x01\x02\x03\x04") == bytes([ACK, ACK, ACK])
    assert boot.memory.flash_at(FLASH + 8, 4) == b"\x01\x02\x03\x04"
    # programming a location that is not erased is refused, memory unchanged
    assert write(boot, FLASH + 8, b"\x00\x00\x00\x00")[-1] == NACK
    assert boot.memory.flash_at(FLASH + 8, 4) == b"\x01\x02\x03\x04"
    # N+1 must be a multiple of 4
    assert write(boot, FLASH + 64, b"\x01\x02\x03")[-1] == NACK
    # a bad data checksum: NACK, nothing written
    frame = cmd(0x31) + addr(FLASH + 32) + b"\x03\x01\x02\x03\x04" + b"\x00"
    assert boot.feed(frame)[-1] == NACK
    assert boot.memory.flash_at(FLASH + 32, 4) == b"\xff" * 4
    # read back 8 bytes
    assert boot.feed(cmd(0x11) + addr(FLASH + 8) + b"\x07\xf8") == bytes(
        [ACK, ACK, ACK, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF]
    )
    # a bad address checksum and an unmapped address
    assert boot.feed(cmd(0x11) + FLASH.to_bytes(4, "big") + b"\x00") == bytes([ACK, NACK])
    assert boot.feed(cmd(0x11) + addr(0x4000_0000)) == bytes([ACK, NACK])


def test_erase_pages_and_global() -> None:
    boot = synced()
    write(boot, FLASH, b"\x00" * 8)
    write(boot, FLASH + 1024, b"\x00" * 8)
    assert boot.feed(cmd(0x43) + bytes([0, 1, 0 ^ 1])) == bytes([ACK, ACK])
    assert boot.memory.flash_at(FLASH, 8) == b"\x00" * 8
    assert boot.memory.flash_at(FLASH + 1024, 8) == b"\xff" * 8
    assert boot.feed(cmd(0x43) + bytes([0, 200, 200])) == bytes([ACK, NACK])  # beyond flash
    assert boot.feed(cmd(0x43) + b"\xff\x00") == bytes([ACK, ACK])
    assert boot.memory.flash_at(FLASH, 8) == b"\xff" * 8


def test_extended_erase() -> None:
    boot = synced(ChipProfile(extended_erase=True))
    write(boot, FLASH + 2048, b"\x00" * 4)
    body = b"\x00\x00" + b"\x00\x02"
    assert boot.feed(cmd(0x44) + body + bytes([reduce(xor, body)])) == bytes([ACK, ACK])
    assert boot.memory.erased_pages == [2]
    assert boot.feed(cmd(0x44) + b"\xff\xff\x00") == bytes([ACK, ACK])
    assert len(boot.memory.erased_pages) == 1 + 64


def test_go_leaves_the_bootloader_until_reset() -> None:
    boot = synced()
    assert boot.feed(cmd(0x21) + addr(FLASH)) == bytes([ACK, ACK])
    assert boot.jumped_to == FLASH
    assert boot.feed(cmd(0x00)) == b""
    boot.reset()
    assert boot.feed(b"\x7f") == bytes([ACK])


def test_injected_nacks() -> None:
    boot = synced(nack=lambda code: code == 0x02)
    assert boot.feed(cmd(0x02)) == bytes([NACK])
    assert boot.feed(cmd(0x01))[0] == ACK


def test_noise_is_a_probability() -> None:
    with pytest.raises(ValueError, match="byte_error_rate"):
        Noise(byte_error_rate=2)
