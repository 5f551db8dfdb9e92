"""Flash an STM32 node through its USART system bootloader (ST AN3155) with stm32loader.

The protocol is stm32loader's own (:class:`stm32loader.bootloader.Stm32Bootloader`, every
command byte of a real run goes through it); this module adds what a roadside line needs:

- **erase only what the image covers** (whole pages), with a longer timeout;
- **a block retried on a noisy line**: when a Write Memory gets a NACK, a wrong reply or no
  reply, the line is resynchronised (:meth:`Stm32Flasher.resync`), the block is read back and
  then: already right (only the ACK was lost): done; still erased: written again; anything
  else (a half-programmed block): its page is erased and rewritten from the image;
- **verify after write**: the whole image is read back block by block and compared; a block
  that differs is read again (the noise may have been on the way back) and only a block that
  differs every time is rewritten (its page erased) and checked once more;
- progress reported per block through a callback (the command draws it with rich).

Resynchronising: the bootloader has no time-out inside a command, so after an error the part
may be half-way through one (waiting for an address, a length, data). A burst of 0xFF bytes
ends whatever it is in with a NACK without harm (0xFF... is never a valid address checksum,
count pair or erase; an all-0xFF write is a no-op on erased flash), then single 0xFF bytes are
sent until one gets a NACK: the part is back at "waiting for a command".
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial
from stm32loader.bootloader import CommandError, Stm32Bootloader

from firmware_tools.flash.errors import FlashError

FLASH_BASE = 0x0800_0000
NACK = 0x1F
#: most bytes sent to bring a lost bootloader back (see :meth:`Stm32Flasher.resync`)
RESYNC_LIMIT = 2 * 65536 + 600
#: the shortest write a failing block is split into
MIN_BLOCK = 32

#: phase ("erase", "write", "verify"), blocks done, blocks in the phase
Progress = Callable[[str, int, int], None]


@dataclass
class FlashReport:
    chip_id: int = 0
    bootloader_version: int = 0
    flash_kib: int = 0
    address: int = FLASH_BASE
    size: int = 0
    blocks: int = 0
    retries: int = 0  # blocks written or read again after a line error or a mismatch
    resyncs: int = 0
    pages_rewritten: int = 0
    started: bool = False  # the application was started (Go) after the verify
    seconds: float = 0.0


def _quiet() -> contextlib.AbstractContextManager:
    """stm32loader prints a few English notes to standard error (erase can take ten
    seconds, activation retried); the technician sees our own progress and messages."""
    return contextlib.redirect_stderr(io.StringIO())


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class Stm32Flasher:
    """Flash *port* (an open pyserial port, 8E1 on real hardware, 8N1 on a pty)."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        family: str | None = None,
        retries: int = 5,
        timeout: float = 1.0,
        erase_timeout: float = 10.0,
        progress: Progress | None = None,
    ) -> None:
        self.port = port
        self.loader = Stm32Bootloader(port, device_family=family, verbosity=0)
        self.retries = retries
        self.timeout = timeout
        self.erase_timeout = erase_timeout
        self.progress = progress or _no_progress
        self.report = FlashReport()
        port.timeout = timeout

    # -- line -------------------------------------------------------------------------------
    def _drain(self, quiet: float = 0.05) -> None:
        old = self.port.timeout
        self.port.timeout = quiet
        try:
            while self.port.read(4096):
                pass
        finally:
            self.port.timeout = old

    def resync(self) -> None:
        """Bring the bootloader back to "waiting for a command" (module docstring).

        A burst of 0xFF, then single 0xFF bytes until one gets a NACK. A corrupted length can
        leave the part waiting for far more bytes than one burst (an Extended Erase count of
        0x8006 pages waits for 64 KiB of page numbers), so the bursts double, up to 128 KiB
        in all (about 12 s at 115200 baud), before giving up."""
        self.report.resyncs += 1
        self.port.reset_input_buffer()  # what is late arrives before the burst's answers end
        burst, sent = 300, 0
        while sent < RESYNC_LIMIT:
            self.port.write(b"\xff" * burst)
            self.port.flush()
            sent += burst
            burst *= 2
            self._drain()
            if self._probe():
                return
        raise FlashError("lost_sync")

    def _probe(self) -> bool:
        """Single 0xFF bytes: True once one gets a NACK (the part waits for a command)."""
        old = self.port.timeout
        self.port.timeout = 0.05  # the line is quiet: an answer comes at once or not at all
        try:
            for _ in range(3):
                self.port.write(b"\xff")
                if self.port.read(1) == bytes([NACK]):
                    self.port.reset_input_buffer()
                    return True
        finally:
            self.port.timeout = old
        return False

    def _retrying(self, what: Callable[[], object], code: str, **args: object) -> object:
        for attempt in range(self.retries + 1):
            try:
                return what()
            except CommandError:
                if attempt == self.retries:
                    break
                self.report.retries += 1
                self.resync()
        raise FlashError(code, **args)

    # -- steps ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Synchronise (0x7F) and identify the part; no write yet."""
        try:
            with _quiet():
                self.loader.reset_from_system_memory()
        except CommandError:
            raise FlashError("no_bootloader", port=self.port.port) from None
        loader = self.loader
        report = self.report
        report.bootloader_version = int(self._retrying(loader.get, "no_answer"))  # type: ignore[arg-type]
        report.chip_id = int(self._retrying(loader.get_id, "no_answer"))  # type: ignore[arg-type]
        report.flash_kib = int(self._retrying(loader.get_flash_size, "no_answer"))  # type: ignore[arg-type]

    def erase(self, address: int, size: int) -> list[int]:
        page = self.loader.flash_page_size
        first = (address - FLASH_BASE) // page
        last = (address - FLASH_BASE + size + page - 1) // page
        pages = list(range(first, last))
        self.progress("erase", 0, 1)
        self._erase_pages(pages)
        self.progress("erase", 1, 1)
        return pages

    def _erase_pages(self, pages: list[int]) -> None:
        self.port.timeout = self.erase_timeout
        try:
            with _quiet():
                self._retrying(lambda: self.loader.erase_memory(pages), "erase_failed")
        finally:
            self.port.timeout = self.timeout

    def _read(self, address: int, length: int) -> bytes:
        data = self._retrying(
            lambda: self.loader.read_memory(address, length), "read_failed", address=hex(address)
        )
        return bytes(data)  # type: ignore[arg-type]

    def _blocks(self, address: int, image: bytes) -> list[tuple[int, bytes]]:
        step = self.loader.data_transfer_size
        return [(address + i, image[i : i + step]) for i in range(0, len(image), step)]

    def _write_block(
        self, address: int, chunk: bytes, image: bytes, base: int, depth: int = 0
    ) -> None:
        """Write *chunk* at *address*, retried (module docstring). After two failed attempts
        the block is written in halves: on a line that corrupts one byte in N, a shorter
        frame is likelier to arrive whole."""
        for attempt in range(self.retries + 1):
            if attempt >= 2 and len(chunk) >= 2 * MIN_BLOCK:
                half = (len(chunk) // 2 + 3) & ~3
                self._write_block(address, chunk[:half], image, base, depth)
                self._write_block(address + half, chunk[half:], image, base, depth)
                return
            try:
                self.loader.write_memory(address, chunk)
                return
            except CommandError:
                if attempt == self.retries:
                    break
                self.report.retries += 1
                self.resync()
                now = self._read(address, len(chunk))
                if now == chunk:
                    return  # programmed; only the answer was lost
                if now != b"\xff" * len(chunk) and depth < 2:
                    self._rewrite_pages(address, len(chunk), image, base, address, depth + 1)
        raise FlashError("write_failed", address=hex(address))

    def _rewrite_pages(
        self, address: int, length: int, image: bytes, base: int, upto: int, depth: int = 1
    ) -> None:
        """Erase the pages under [address, address+length) and write back the image's bytes
        in them that lie before *upto* (the caller writes the rest)."""
        page = self.loader.flash_page_size
        first = (address - FLASH_BASE) // page
        last = (address - FLASH_BASE + length + page - 1) // page
        self._erase_pages(list(range(first, last)))
        self.report.pages_rewritten += last - first
        start = max(FLASH_BASE + first * page, base)
        end = min(FLASH_BASE + last * page, upto, base + len(image))
        for block_address, chunk in self._blocks(start, image[start - base : end - base]):
            self._write_block(block_address, chunk, image, base, depth)

    def write(self, address: int, image: bytes) -> None:
        blocks = self._blocks(address, image)
        self.report.blocks = len(blocks)
        for i, (block_address, chunk) in enumerate(blocks):
            self._write_block(block_address, chunk, image, address)
            self.progress("write", i + 1, len(blocks))

    def verify(self, address: int, image: bytes) -> None:
        blocks = self._blocks(address, image)
        for i, (block_address, chunk) in enumerate(blocks):
            if not self._block_matches(block_address, chunk):
                self.report.retries += 1
                # every block of the page goes back, the ones after this one too
                self._rewrite_pages(block_address, len(chunk), image, address, upto=1 << 40)
                if not self._block_matches(block_address, chunk):
                    raise FlashError("verify_failed", address=hex(block_address))
            self.progress("verify", i + 1, len(blocks))

    def _block_matches(self, address: int, chunk: bytes) -> bool:
        for attempt in range(self.retries + 1):
            if self._read(address, len(chunk)) == chunk:
                return True
            if attempt < self.retries:
                self.report.retries += 1
        return False

    def start(self, address: int) -> None:
        self._retrying(lambda: self.loader.go(address), "go_failed", address=hex(address))
        self.report.started = True

    # -- all of it --------------------------------------------------------------------------
    def flash(self, image: bytes, address: int = FLASH_BASE, go: bool = True) -> FlashReport:
        """Connect, check the size, erase, write, verify, and start the application."""
        began = time.monotonic()
        if not image:
            raise FlashError("empty_image")
        if address < FLASH_BASE or (address - FLASH_BASE) % 4:
            raise FlashError("bad_address", address=hex(address))
        self.connect()
        capacity = self.report.flash_kib * 1024
        if address - FLASH_BASE + len(image) > capacity:
            raise FlashError("too_big", size=len(image), capacity=capacity, address=hex(address))
        self.report.address, self.report.size = address, len(image)
        self.erase(address, len(image))
        self.write(address, image)
        self.verify(address, image)
        if go:
            self.start(address)
        self.report.seconds = time.monotonic() - began
        return self.report
