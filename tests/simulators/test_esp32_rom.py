"""The ESP32 ROM loader emulator: its pure core (SLIP, status bytes, checksums, the flash rules)
byte by byte, and the whole of it on a pty driven by esptool's own command line."""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import esptool
import pytest

from simulators.devices.esp32_rom import ChipProfile, Esp32RomSim, Noise, RomLoader
from simulators.devices.esp32_rom.protocol import (
    FLASH_BEGIN,
    FLASH_DATA,
    FLASH_DEFL_DATA,
    FLASH_END,
    INVALID_CRC,
    INVALID_MESSAGE,
    READ_REG,
    SPI_ATTACH,
    SPI_FLASH_MD5,
    SYNC,
    SYNC_DATA,
    checksum,
    slip,
)
from simulators.devices.serial_link import SerialLink


def request(op: int, data: bytes = b"", chk: int = 0) -> bytes:
    return slip(struct.pack("<BBHI", 0, op, len(data), chk) + data)


def answers(raw: bytes) -> list[tuple[int, int, bytes]]:
    """(op, value, data) of every SLIP frame in *raw* (no escapes in these tests' answers)."""
    out = []
    for frame in raw.split(b"\xc0"):
        if frame:
            direction, op, size, value = struct.unpack("<BBHI", frame[:8])
            assert direction == 1 and size == len(frame) - 8
            out.append((op, value, frame[8:]))
    return out


def one(rom: RomLoader, op: int, data: bytes = b"", chk: int = 0) -> tuple[int, bytes]:
    ((got_op, value, body),) = answers(rom.feed(request(op, data, chk)))
    assert got_op == op
    return value, body


def attached() -> RomLoader:
    rom = RomLoader()
    assert one(rom, SPI_ATTACH, bytes(8)) == (0, bytes(4))
    return rom


def block_request(data: bytes, seq: int, chk: int | None = None) -> tuple[bytes, int]:
    return struct.pack("<IIII", len(data), seq, 0, 0) + data, checksum(data) if chk is None else chk


def test_sync_is_answered_eight_times_and_noise_outside_frames_is_ignored() -> None:
    rom = RomLoader()
    got = answers(rom.feed(b"\x55\x12" + request(SYNC, SYNC_DATA)))
    assert len(got) == 8 and all(a == (SYNC, 0x2012_0707, bytes(4)) for a in got)
    # a wrong sync pattern is an invalid message, as is a size that does not match the data
    assert one(rom, SYNC, SYNC_DATA[:-1])[1] == bytes([1, INVALID_MESSAGE, 0, 0])
    frame = slip(struct.pack("<BBHI", 0, READ_REG, 8, 0) + bytes(4))
    assert answers(rom.feed(frame))[0][2] == bytes([1, INVALID_MESSAGE, 0, 0])


def test_registers_chip_magic_efuse_mac_and_the_spi_flash_id() -> None:
    rom = RomLoader(ChipProfile(mac=bytes.fromhex("a0b1c2d3e4f5")))
    assert one(rom, READ_REG, struct.pack("<I", 0x4000_1000))[0] == 0x00F0_1D83
    word1 = one(rom, READ_REG, struct.pack("<I", 0x3FF5_A004))[0]
    word2 = one(rom, READ_REG, struct.pack("<I", 0x3FF5_A008))[0]
    assert struct.pack(">II", word2, word1)[2:8] == bytes.fromhex("a0b1c2d3e4f5")
    # RDID through the SPI controller's user command: USR2 = 0x9F, CMD.USR, read W0
    writes = struct.pack("<IIII", 0x3FF4_2024, (7 << 28) | 0x9F, 0xFFFF_FFFF, 0)
    writes += struct.pack("<IIII", 0x3FF4_2000, 1 << 18, 0xFFFF_FFFF, 0)
    assert one(rom, 0x09, writes) == (0, bytes(4))
    assert one(rom, READ_REG, struct.pack("<I", 0x3FF4_2000))[0] & (1 << 18) == 0
    assert one(rom, READ_REG, struct.pack("<I", 0x3FF4_2080))[0] == 0x16_40C8


def test_the_stub_s_commands_are_unknown_to_the_rom() -> None:
    rom = RomLoader()
    for op in (0x05, 0x14, 0xD0, 0xD2):  # MEM_BEGIN, GET_SECURITY_INFO, ERASE_FLASH, READ_FLASH
        assert one(rom, op, bytes(16))[1] == bytes([1, INVALID_MESSAGE, 0, 0])


def test_flash_begin_erases_sectors_data_checks_checksum_and_sequence() -> None:
    rom = RomLoader()
    begin = struct.pack("<IIII", 0x1800, 6, 0x400, 0x10000)
    assert one(rom, FLASH_BEGIN, begin)[1][0] == 1  # not attached yet: refused
    rom = attached()
    rom.chip.flash[0x10000:0x13000] = bytes(0x3000)  # old contents
    assert one(rom, FLASH_BEGIN, struct.pack("<IIII", 0x400, 1, 0x400, 0x10010))[1][0] == 1
    assert one(rom, FLASH_BEGIN, begin) == (0, bytes(4))
    assert rom.chip.erased_sectors == [0x10, 0x11]  # whole 4 KiB sectors under 0x1800 bytes
    assert rom.chip.flash_at(0x12000, 4) == bytes(4)  # the next sector is left alone
    block = bytes(range(256)) * 4
    data, chk = block_request(block, 0, chk=checksum(block) ^ 1)
    assert one(rom, FLASH_DATA, data, chk)[1] == bytes([1, INVALID_CRC, 0, 0])
    assert rom.chip.flash_at(0x10000, 4) == b"\xff" * 4  # nothing written
    assert one(rom, FLASH_DATA, *block_request(block, 0)) == (0, bytes(4))
    assert one(rom, FLASH_DATA, *block_request(block, 0)) == (0, bytes(4))  # a repeat: same
    assert rom.chip.flash_at(0x10000, 0x400) == block
    assert one(rom, FLASH_DATA, *block_request(block, 5))[1][0] == 1  # skipped 1..4
    digest = hashlib.md5(block).hexdigest().encode()
    assert one(rom, SPI_FLASH_MD5, struct.pack("<IIII", 0x10000, 0x400, 0, 0)) == (
        0,
        digest + bytes(4),
    )


def test_programming_only_clears_bits_and_flash_end_runs_the_application() -> None:
    rom = attached()
    one(rom, FLASH_BEGIN, struct.pack("<IIII", 0x400, 1, 0x400, 0))
    one(rom, FLASH_DATA, *block_request(b"\x0f" * 0x400, 0))
    one(rom, FLASH_DATA, *block_request(b"\xf1" * 0x400, 0))  # not erased in between
    assert rom.chip.flash_at(0, 4) == b"\x01" * 4
    assert one(rom, FLASH_END, struct.pack("<I", 1)) == (0, bytes(4))
    assert rom.state == "running" and rom.feed(request(SYNC, SYNC_DATA)) == b""
    rom.reset()
    assert len(answers(rom.feed(request(SYNC, SYNC_DATA)))) == 8


def test_noise_is_a_probability() -> None:
    with pytest.raises(ValueError, match="checksum_error_rate"):
        Noise(checksum_error_rate=1.5)


def test_esptool_s_own_command_line_writes_the_image(tmp_path: Path, capsys) -> None:
    """`esptool --no-stub write-flash` as a technician would type it, against the emulator:
    the image lands byte for byte and esptool's own MD5 check passes."""
    data = random.Random(5).randbytes(9000)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    with (
        SerialLink(tmp_path / "ttyESP", baudrate=115200) as link,
        Esp32RomSim(link, noise=Noise(checksum_error_rate=0.2, seed=4)) as sim,
    ):
        esptool.main(
            [
                *("--chip", "esp32", "--port", link.path, "--baud", "115200"),
                *("--before", "no-reset", "--after", "no-reset", "--no-stub"),
                *("write-flash", "--no-compress", "0x10000", str(image)),
            ]
        )
        assert sim.chip.flash_at(0x10000, len(data)) == data
        assert sim.chip.flash_at(0x10000 + len(data), 16) == b"\xff" * 16
        assert sim.injected.checksum_errors > 0  # esptool repeated those blocks itself
        assert sim.loader.commands[SPI_FLASH_MD5] == 1
    out = capsys.readouterr().out
    assert "ESP32-D0WD-V3" in out and "24:0a:c4:12:34:56" in out
    assert "Hash of data verified" in out


def test_esptool_s_compressed_write_is_inflated_by_the_rom(tmp_path: Path) -> None:
    """`write-flash --compress` without the stub: FLASH_DEFL_* blocks, inflated as they come
    (a text-like image compresses; its blocks on the line are fewer than in flash)."""
    rng = random.Random(6)
    data = b"".join(rng.choice([b"jalan ", b"banjir ", b"0x1F "]) for _ in range(6000))
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    with (
        SerialLink(tmp_path / "ttyESP", baudrate=115200) as link,
        Esp32RomSim(link, noise=Noise(checksum_error_rate=0.2, seed=2)) as sim,
    ):
        esptool.main(
            [
                *("--chip", "esp32", "--port", link.path, "--before", "no-reset"),
                *("--after", "no-reset", "--no-stub", "write-flash", "--compress"),
                *("0x20000", str(image)),
            ]
        )
        assert sim.chip.flash_at(0x20000, len(data)) == data
        blocks = sim.loader.commands[FLASH_DEFL_DATA]
        assert 0 < blocks < len(data) // 1024 and FLASH_DATA not in sim.loader.commands
        assert sim.injected.checksum_errors > 0
