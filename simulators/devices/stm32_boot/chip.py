"""What an emulated STM32 looks like to its system bootloader: the part's product id, its
memory regions (flash, SRAM, the factory block with the flash size and the unique id, the
option bytes) and the commands its bootloader offers (ST AN2606 lists them per part).

Pure data and byte arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Command codes of the USART bootloader (ST AN3155 section 2).
GET = 0x00
GET_VERSION = 0x01
GET_ID = 0x02
READ_MEMORY = 0x11
GO = 0x21
WRITE_MEMORY = 0x31
ERASE = 0x43
EXTENDED_ERASE = 0x44
WRITE_PROTECT = 0x63
WRITE_UNPROTECT = 0x73
READOUT_PROTECT = 0x82
READOUT_UNPROTECT = 0x92

ACK = 0x79
NACK = 0x1F
SYNC = 0x7F

ERASED = 0xFF


@dataclass(frozen=True)
class ChipProfile:
    """A part as the bootloader reports it. The default is an STM32F103C8 ("blue pill":
    product id 0x410, 64 KiB flash in 1 KiB pages, 20 KiB SRAM, bootloader 2.2, which offers
    the classic Erase 0x43); ``extended_erase=True`` makes it offer Extended Erase 0x44
    instead, as the bootloaders of newer parts (F0 v3.1, F4, L4, G0) do."""

    name: str = "STM32F103C8"
    product_id: int = 0x410
    bootloader_version: int = 0x22
    flash_base: int = 0x0800_0000
    flash_size: int = 64 * 1024
    page_size: int = 1024
    ram_base: int = 0x2000_0000
    ram_size: int = 20 * 1024
    #: The factory block: flash size in KiB (16 bits) and the 96-bit unique id (RM0008 30).
    info_base: int = 0x1FFF_F000
    flash_size_address: int = 0x1FFF_F7E0
    uid_address: int = 0x1FFF_F7E8
    option_base: int = 0x1FFF_F800
    extended_erase: bool = False
    uid: bytes = field(default=bytes(range(0x30, 0x3C)))

    @property
    def pages(self) -> int:
        return self.flash_size // self.page_size

    @property
    def commands(self) -> bytes:
        """What Get (0x00) lists, in the order AN3155 gives."""
        erase = EXTENDED_ERASE if self.extended_erase else ERASE
        return bytes([GET, GET_VERSION, GET_ID, READ_MEMORY, GO, WRITE_MEMORY, erase])


class Memory:
    """The part's address space: flash (erased to 0xFF, written only where erased, as the
    STM32F1 flash controller refuses to program a half-word that is not erased), SRAM
    (written freely), and read-only factory and option bytes."""

    def __init__(self, chip: ChipProfile) -> None:
        self.chip = chip
        self.flash = bytearray([ERASED]) * chip.flash_size
        self.ram = bytearray(chip.ram_size)
        info = bytearray([ERASED]) * (chip.option_base - chip.info_base)
        at = chip.flash_size_address - chip.info_base
        info[at : at + 2] = (chip.flash_size // 1024).to_bytes(2, "little")
        at = chip.uid_address - chip.info_base
        info[at : at + 12] = chip.uid
        self.info = bytes(info)
        # RDP level 0 (0xA5 and its complement), the user option byte, data and WRP erased
        self.options = bytes([0xA5, 0x5A, 0xFF, 0x00]) + bytes([0xFF, 0x00] * 6)
        self.writes = 0  # Write Memory commands that changed memory
        self.erased_pages: list[int] = []  # every page erased, in order (mass erase: all)

    def _region(self, address: int, length: int) -> tuple[bytearray | bytes, int, str] | None:
        c = self.chip
        for base, data, kind in (
            (c.flash_base, self.flash, "flash"),
            (c.ram_base, self.ram, "ram"),
            (c.info_base, self.info, "info"),
            (c.option_base, self.options, "options"),
        ):
            if base <= address and address + length <= base + len(data):
                return data, address - base, kind
        return None

    def readable(self, address: int, length: int = 1) -> bool:
        return self._region(address, length) is not None

    def read(self, address: int, length: int) -> bytes:
        region = self._region(address, length)
        if region is None:
            raise ValueError(f"0x{address:08X}+{length}: not mapped")
        data, offset, _ = region
        return bytes(data[offset : offset + length])

    def writable(self, address: int, length: int = 1) -> bool:
        region = self._region(address, length)
        return region is not None and region[2] in ("flash", "ram")

    def write(self, address: int, payload: bytes) -> bool:
        """Program *payload*; False (nothing changed) where the flash is not erased."""
        region = self._region(address, len(payload))
        if region is None or region[2] not in ("flash", "ram"):
            return False
        data, offset, kind = region
        target = data[offset : offset + len(payload)]
        if kind == "flash" and any(b != ERASED for b in target):
            return False
        assert isinstance(data, bytearray)
        data[offset : offset + len(payload)] = payload
        self.writes += 1
        return True

    def erase_pages(self, pages: list[int]) -> bool:
        """Erase *pages*; False (nothing erased) if one is beyond the flash."""
        if any(p < 0 or p >= self.chip.pages for p in pages):
            return False
        size = self.chip.page_size
        for page in pages:
            self.flash[page * size : (page + 1) * size] = bytes([ERASED]) * size
        self.erased_pages.extend(pages)
        return True

    def mass_erase(self) -> None:
        self.erase_pages(list(range(self.chip.pages)))

    def flash_at(self, address: int, length: int) -> bytes:
        """The flash contents at an absolute address (what a test compares with an image)."""
        offset = address - self.chip.flash_base
        return bytes(self.flash[offset : offset + length])
