"""The ESP32 ROM serial loader (download mode) as a pure state machine: bytes in, bytes out.

It speaks the serial protocol esptool documents ("Serial Protocol", esptool docs) the way the
ESP32's ROM does, for the commands esptool sends with ``--no-stub``:

- SLIP framing: every packet between 0xC0 bytes, 0xC0 and 0xDB in it escaped as 0xDB 0xDC and
  0xDB 0xDD; bytes outside a frame are ignored;
- a request is ``00 op size(16) checksum(32) data``; the answer ``01 op size(16) value(32)
  data``, where data ends in four status bytes: status (0 ok, 1 failed), the error code and two
  reserved bytes (the ESP32 ROM sends four, the stub two);
- SYNC (0x08, the 36 bytes 07 07 12 20 55...) is answered eight times, as the ROM does;
- READ_REG (0x0A) / WRITE_REG (0x09) on the chip's registers (:mod:`.chip`), including the SPI
  controller through which esptool reads the flash's JEDEC id and SFDP table;
- SPI_SET_PARAMS (0x0B), SPI_ATTACH (0x0D): the flash is attached; CHANGE_BAUDRATE (0x0F);
- FLASH_BEGIN (0x02: erase size, blocks, block size, offset; the ROM erases right away, whole
  4 KiB sectors from a sector-aligned offset), FLASH_DATA (0x03: size, sequence, 0, 0 and the
  block; the request's checksum field is the XOR of the block's bytes seeded with 0xEF, a
  mismatch is error 0x07 and nothing is written; the sequence must be the next one or a repeat
  of the last one), FLASH_END (0x04: 1 runs the application, 0 reboots);
- FLASH_DEFL_BEGIN / FLASH_DEFL_DATA / FLASH_DEFL_END (0x10-0x12): the same with the blocks
  compressed (zlib), inflated as they come (``esptool --no-stub write-flash --compress``);
  a repeat of the last block is acknowledged without inflating it again;
- SPI_FLASH_MD5 (0x13): the MD5 of a flash region, 32 lower-case hex digits (the ROM's form);
- anything else (the stub's commands, MEM_* uploads, GET_SECURITY_INFO, which the ESP32 ROM
  does not know): error 0x05, "invalid message", as the ROM answers.

*fault* is an optional hook: called with the op of every valid FLASH_DATA, it returns an error
code to answer instead of writing (fault injection: 0x07 is a wrong-checksum answer).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from simulators.devices.esp32_rom.chip import ChipProfile, Esp32Chip

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

FLASH_BEGIN = 0x02
FLASH_DATA = 0x03
FLASH_END = 0x04
SYNC = 0x08
WRITE_REG = 0x09
READ_REG = 0x0A
SPI_SET_PARAMS = 0x0B
SPI_ATTACH = 0x0D
CHANGE_BAUDRATE = 0x0F
FLASH_DEFL_BEGIN = 0x10
FLASH_DEFL_DATA = 0x11
FLASH_DEFL_END = 0x12
SPI_FLASH_MD5 = 0x13

#: error codes of the status bytes (esptool's loader names them)
INVALID_MESSAGE = 0x05
FAILED_TO_ACT = 0x06
INVALID_CRC = 0x07
INFLATE_ERROR = 0x0B

SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32
CHECKSUM_SEED = 0xEF


def slip(packet: bytes) -> bytes:
    return b"\xc0" + packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def checksum(data: bytes) -> int:
    state = CHECKSUM_SEED
    for b in data:
        state ^= b
    return state


class RomLoader:
    def __init__(
        self,
        profile: ChipProfile | None = None,
        chip: Esp32Chip | None = None,
        fault: Callable[[int], int] | None = None,
    ) -> None:
        self.chip = chip or Esp32Chip(profile)
        self.fault = fault
        self.state = "download"  # download, running (FLASH_END 1: the application runs)
        self.commands: dict[int, int] = {}  # op -> times it succeeded
        self.errors: dict[int, int] = {}  # error code -> times answered
        self.attached = False
        self.flash_params: tuple[int, ...] | None = None
        self.baud: int | None = None
        self._frame: bytearray | None = None
        self._escaped = False
        self._begin: tuple[int, int, int] | None = None  # offset, blocks, block size
        self._next_seq = 0
        self._inflate: zlib._Decompress | None = None  # FLASH_DEFL_*: the stream so far
        self._written = 0  # FLASH_DEFL_*: bytes inflated and programmed
        self._out = bytearray()

    def reset(self) -> None:
        """GPIO0 low and a reset: back in download mode, flash kept."""
        self.state = "download"
        self.attached = False
        self._begin = None
        self._frame = None

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host in, the ROM's answers out (may be empty)."""
        for byte in data:
            self._byte(byte)
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- framing ----------------------------------------------------------------------------
    def _byte(self, byte: int) -> None:
        if byte == END:
            frame, self._frame, self._escaped = self._frame, bytearray(), False
            if frame:
                self._packet(bytes(frame))
            return
        if self._frame is None:
            return  # outside a frame
        if self._escaped:
            self._escaped = False
            if byte not in (ESC_END, ESC_ESC):
                self._frame = None  # a bad escape: the ROM drops the frame
                return
            byte = END if byte == ESC_END else ESC
        elif byte == ESC:
            self._escaped = True
            return
        self._frame.append(byte)

    def _answer(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> None:
        status = bytes([1 if error else 0, error, 0, 0])
        if error:
            self.errors[error] = self.errors.get(error, 0) + 1
        else:
            self.commands[op] = self.commands.get(op, 0) + 1
        body = data + status
        self._out += slip(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _packet(self, packet: bytes) -> None:
        if self.state == "running":
            return  # the application runs: it does not speak the loader's protocol
        if len(packet) < 8:
            return
        direction, op, size, chk = struct.unpack("<BBHI", packet[:8])
        data = packet[8:]
        if direction != 0:
            return
        if size != len(data):
            self._answer(op, error=INVALID_MESSAGE)
            return
        handler = {
            SYNC: self._sync,
            READ_REG: self._read_reg,
            WRITE_REG: self._write_reg,
            SPI_SET_PARAMS: self._spi_set_params,
            SPI_ATTACH: self._spi_attach,
            CHANGE_BAUDRATE: self._change_baudrate,
            FLASH_BEGIN: self._flash_begin,
            FLASH_DATA: self._flash_data,
            FLASH_END: self._flash_end,
            FLASH_DEFL_BEGIN: self._flash_begin,
            FLASH_DEFL_DATA: self._flash_data,
            FLASH_DEFL_END: self._flash_end,
            SPI_FLASH_MD5: self._flash_md5,
        }.get(op)
        if handler is None:
            self._answer(op, error=INVALID_MESSAGE)
            return
        handler(op, data, chk)

    # -- commands ---------------------------------------------------------------------------
    def _sync(self, op: int, data: bytes, chk: int) -> None:
        if data != SYNC_DATA:
            self._answer(op, error=INVALID_MESSAGE)
            return
        for _ in range(8):
            self._answer(op, value=0x2012_0707)

    def _read_reg(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 4:
            self._answer(op, error=INVALID_MESSAGE)
            return
        (address,) = struct.unpack("<I", data)
        self._answer(op, value=self.chip.read_reg(address))

    def _write_reg(self, op: int, data: bytes, chk: int) -> None:
        if not data or len(data) % 16:
            self._answer(op, error=INVALID_MESSAGE)
            return
        for at in range(0, len(data), 16):
            address, value, mask, _delay = struct.unpack("<IIII", data[at : at + 16])
            self.chip.write_reg(address, value, mask)
        self._answer(op)

    def _spi_set_params(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 24:
            self._answer(op, error=INVALID_MESSAGE)
            return
        self.flash_params = struct.unpack("<6I", data)
        self._answer(op)

    def _spi_attach(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 8:
            self._answer(op, error=INVALID_MESSAGE)
            return
        self.attached = True
        self._answer(op)

    def _change_baudrate(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 8:
            self._answer(op, error=INVALID_MESSAGE)
            return
        self.baud = struct.unpack("<II", data)[0]
        self._answer(op)

    def _flash_begin(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 16:  # the ESP32 ROM has no "encrypted" fifth word
            self._answer(op, error=INVALID_MESSAGE)
            return
        erase_size, blocks, block_size, offset = struct.unpack("<IIII", data)
        if not self.attached or not block_size or not self.chip.erase(offset, erase_size):
            self._begin = None
            self._answer(op, error=FAILED_TO_ACT)
            return
        self._begin = (offset, blocks, block_size)
        self._next_seq = 0
        self._inflate = zlib.decompressobj() if op == FLASH_DEFL_BEGIN else None
        self._written = 0
        self._answer(op)

    def _flash_data(self, op: int, data: bytes, chk: int) -> None:
        if len(data) < 16:
            self._answer(op, error=INVALID_MESSAGE)
            return
        size, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:]
        if size != len(block):
            self._answer(op, error=INVALID_MESSAGE)
            return
        if checksum(block) != chk & 0xFF:
            self._answer(op, error=INVALID_CRC)
            return
        if self._begin is None or seq not in (self._next_seq, self._next_seq - 1):
            self._answer(op, error=FAILED_TO_ACT)
            return
        offset, blocks, block_size = self._begin
        if seq >= blocks or size > block_size:
            self._answer(op, error=FAILED_TO_ACT)
            return
        if self.fault is not None and (error := self.fault(op)):
            self._answer(op, error=error)
            return
        if (op == FLASH_DEFL_DATA) != (self._inflate is not None):
            self._answer(op, error=FAILED_TO_ACT)  # a plain block in a compressed run or so
            return
        if self._inflate is not None:
            if seq < self._next_seq:  # its answer was lost: it is in flash already
                self._answer(op)
                return
            try:
                block = self._inflate.decompress(block)
            except zlib.error:
                self._answer(op, error=INFLATE_ERROR)
                return
            at, self._written = offset + self._written, self._written + len(block)
        else:
            at = offset + seq * block_size
        if not self.chip.program(at, block):
            self._answer(op, error=FAILED_TO_ACT)
            return
        self._next_seq = max(self._next_seq, seq + 1)
        self._answer(op)

    def _flash_end(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 4:
            self._answer(op, error=INVALID_MESSAGE)
            return
        (stay,) = struct.unpack("<I", data)
        self._begin = None
        self._answer(op)
        if stay:
            self.state = "running"  # 1: jump to the application in flash
        else:
            self.reset()  # 0: reboot; the node's GPIO0 is still low: download mode again

    def _flash_md5(self, op: int, data: bytes, chk: int) -> None:
        if len(data) != 16:
            self._answer(op, error=INVALID_MESSAGE)
            return
        address, size, _, _ = struct.unpack("<IIII", data)
        digest = self.chip.md5(address, size) if self.attached else None
        if digest is None:
            self._answer(op, error=FAILED_TO_ACT)
            return
        self._answer(op, data=digest)
