"""What an emulated ESP32 looks like to its ROM serial loader: the registers esptool reads (the
chip-detect word, the eFuses with the MAC and the revision, the SPI controller through which it
asks the flash chip for its JEDEC id and SFDP table) and the SPI NOR flash itself.

Pure data and byte arrays; no I/O. Register addresses are the ESP32's (ESP32 TRM; the same
constants esptool's ``targets/esp32.py`` uses).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ERASED = 0xFF
SECTOR = 0x1000

#: The ROM's word at 0x40001000 on an ESP32: esptool tells chips apart by it.
CHIP_DETECT_MAGIC_ADDR = 0x4000_1000
ESP32_MAGIC = 0x00F0_1D83

EFUSE_BASE = 0x3FF5_A000
APB_CTL_DATE = 0x3FF6_607C  # bit 31 set: a revision 3 die
UART_CLKDIV = 0x3FF4_0014
RTCCALICFG1 = 0x3FF5_F06C

SPI_BASE = 0x3FF4_2000
SPI_CMD = SPI_BASE + 0x00
SPI_ADDR = SPI_BASE + 0x04
SPI_USR1 = SPI_BASE + 0x20
SPI_USR2 = SPI_BASE + 0x24
SPI_W0 = SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18

RDID = 0x9F
RDSFDP = 0x5A


@dataclass(frozen=True)
class ChipProfile:
    """An ESP32-D0WD-V3 (revision 3.0) with a 4 MiB GigaDevice flash by default."""

    name: str = "ESP32-D0WD-V3"
    mac: bytes = bytes.fromhex("240ac4123456")
    flash_size: int = 4 * 1024 * 1024
    #: RDID answer: manufacturer 0xC8, memory type 0x40, capacity 0x16 (2**22 bytes)
    jedec_id: int = 0x16_40C8
    xtal_hz: int = 40_000_000
    #: the chip-detect word; another part's (0x000007C6: an ESP32-S2) makes esptool refuse it
    magic: int = ESP32_MAGIC

    def efuse_words(self) -> dict[int, int]:
        """The eFuse read registers (EFUSE_BLK0_RDATA0..6) as esptool decodes them."""
        mac = self.mac
        word1 = int.from_bytes(mac[2:6], "big")
        word2 = (mac[0] << 8) | mac[1]
        pkg_d0wd = 1 << 9  # CHIP_VER_PKG = 1: ESP32-D0WD
        rev_bit0 = 1 << 15
        word3 = pkg_d0wd | rev_bit0
        word4 = 0x52  # CK8M_FREQ (only the baud-rate change reads it)
        word5 = 1 << 20  # rev_bit1
        return {0: 0, 1: word1, 2: word2, 3: word3, 4: word4, 5: word5, 6: 0}


def sfdp_table() -> bytes:
    """The first bytes of an SFDP table: the "SFDP" signature, then the JEDEC basic
    parameter header (a GigaDevice part, not XMC: esptool's XMC start-up fix stays out)."""
    head = b"SFDP" + bytes([0x06, 0x01, 0x01, 0xFF])
    basic = bytes([0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xFF])
    vendor = bytes([0xC8, 0x00, 0x01, 0x03, 0x90, 0x00, 0x00, 0xFF])
    return (head + basic + vendor).ljust(64, b"\xff")


class Esp32Chip:
    """Registers and flash of one part. Reads of unmapped registers give 0, as many real
    peripheral registers do; writes to them are kept (esptool restores what it changed)."""

    def __init__(self, profile: ChipProfile | None = None) -> None:
        self.profile = p = profile or ChipProfile()
        self.flash = bytearray([ERASED]) * p.flash_size
        self.registers: dict[int, int] = {
            CHIP_DETECT_MAGIC_ADDR: p.magic,
            APB_CTL_DATE: 1 << 31,
            UART_CLKDIV: p.xtal_hz // 115200,
            RTCCALICFG1: 0,
        }
        for n, word in p.efuse_words().items():
            self.registers[EFUSE_BASE + 4 * n] = word
        self.spi_commands: list[int] = []  # flash-chip commands run through SPI_USR
        self.erased_sectors: list[int] = []
        self.writes = 0  # FLASH_DATA blocks that were programmed

    # -- registers --------------------------------------------------------------------------
    def read_reg(self, address: int) -> int:
        return self.registers.get(address, 0)

    def write_reg(self, address: int, value: int, mask: int) -> None:
        old = self.registers.get(address, 0)
        self.registers[address] = (old & ~mask | value & mask) & 0xFFFF_FFFF
        if address == SPI_CMD and self.registers[address] & SPI_CMD_USR:
            self._spi_user_command()

    def _spi_user_command(self) -> None:
        """Run the flash command in SPI_USR2 (the controller clears the USR bit when done)."""
        command = self.registers.get(SPI_USR2, 0) & 0xFF
        self.spi_commands.append(command)
        result = 0
        if command == RDID:
            result = self.profile.jedec_id
        elif command == RDSFDP:
            addr_bits = ((self.registers.get(SPI_USR1, 0) >> 26) & 0x3F) + 1
            at = self.registers.get(SPI_ADDR, 0) >> (32 - addr_bits)
            table = sfdp_table()
            result = int.from_bytes(table[at : at + 4].ljust(4, b"\xff"), "little")
        self.registers[SPI_W0] = result
        self.registers[SPI_CMD] &= ~SPI_CMD_USR

    # -- flash ------------------------------------------------------------------------------
    def erase(self, offset: int, size: int) -> bool:
        """Erase the sectors under [offset, offset+size); False (nothing erased) when the
        offset is not sector-aligned or the range leaves the flash."""
        if offset % SECTOR or offset < 0 or offset + size > len(self.flash):
            return False
        end = -(-(offset + size) // SECTOR) * SECTOR
        for sector in range(offset // SECTOR, end // SECTOR):
            self.flash[sector * SECTOR : (sector + 1) * SECTOR] = bytes([ERASED]) * SECTOR
            self.erased_sectors.append(sector)
        return True

    def program(self, offset: int, data: bytes) -> bool:
        """NOR programming: bits only go from 1 to 0 (new = old AND data), so writing the
        same block twice leaves it as written once. False when it leaves the flash."""
        if offset < 0 or offset + len(data) > len(self.flash):
            return False
        end = offset + len(data)
        old = self.flash[offset:end]
        self.flash[offset:end] = bytes(a & b for a, b in zip(old, data, strict=True))
        self.writes += 1
        return True

    def md5(self, offset: int, size: int) -> bytes | None:
        if offset < 0 or offset + size > len(self.flash):
            return None
        return hashlib.md5(self.flash[offset : offset + size]).hexdigest().encode()

    def flash_at(self, offset: int, length: int) -> bytes:
        """The flash contents at *offset* (what a test compares with an image)."""
        return bytes(self.flash[offset : offset + length])
