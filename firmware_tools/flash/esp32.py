"""Flash an ESP32 node through its ROM serial loader with esptool, without esptool's stub.

Every byte on the line comes from esptool's own loader (:class:`esptool.targets.ESP32ROM`: its
SLIP framing, SYNC, READ_REG, SPI_ATTACH, SPI_SET_PARAMS, FLASH_BEGIN, FLASH_DATA with its
checksum and its own three attempts per block, SPI_FLASH_MD5, FLASH_END); the run is what
``esptool --chip esp32 --before no-reset --after no-reset --no-stub write-flash --no-compress``
does, with what a roadside line needs on top:

- the node is put into download mode by hand (GPIO0 low while EN is pressed): a pty, and many
  field cables, have no DTR/RTS wired to EN and GPIO0;
- **no stub**: nothing is uploaded into the part's RAM; the ROM erases the sectors under the
  image at FLASH_BEGIN and programs 1 KiB blocks; no compression (the ROM's deflate path would
  work too, but a block's size on the line is then not its size in flash);
- **the flash size is read twice** (JEDEC id) and must agree before the image's size is checked
  against it, so a read damaged on the way cannot refuse, or pass, an image;
- **a block that still fails after esptool's own attempts** resumes the write from the start of
  its 4 KiB sector (FLASH_BEGIN there erases it again; NOR programming cannot undo a half
  write otherwise), up to ``retries`` times per block;
- **verify after write**: the ROM's MD5 of the written region is compared with the image's; a
  mismatch is read again (the digest may have been damaged on the way back) and only one that
  stays is rewritten (once per remaining retry) and checked again;
- a lost connection is synchronised again (``no-reset``) before the step is repeated;
- the application is started (FLASH_END "run user code") unless ``go=False``;
- progress per phase through a callback (the command draws it with rich); esptool's own
  English output goes to the log, not to the technician.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import serial
from esptool.cmds import DETECTED_FLASH_SIZES, attach_flash
from esptool.logger import EspLog, EspLogBase
from esptool.targets import ESP32ROM
from esptool.util import FatalError, flash_size_bytes

from firmware_tools.flash.errors import FlashError
from firmware_tools.flash.run import ESP32_APP_ADDRESS as APP_ADDRESS
from firmware_tools.flash.stm32 import Progress

log = logging.getLogger(__name__)

SECTOR = 0x1000
#: what a damaged answer can raise inside esptool: its own errors, a hex digest that is no
#: longer ASCII, a short packet
LINE_ERRORS = (FatalError, UnicodeDecodeError, struct.error, serial.SerialException)

T = TypeVar("T")


@dataclass
class Esp32Report:
    chip: str = ""
    mac: str = ""
    flash_kib: int = 0
    address: int = APP_ADDRESS
    size: int = 0
    blocks: int = 0
    retries: int = 0  # block attempts esptool repeated, resumed sectors, repeated steps
    resyncs: int = 0
    rewrites: int = 0  # whole-image rewrites after a verify that kept failing
    started: bool = False
    seconds: float = 0.0


class _ToLog(EspLogBase):
    """esptool's output (English, for a developer) into the Python log, never on screen."""

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = " ".join(str(a) for a in args).strip()
        if text:
            log.debug("esptool: %s", text)

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        log.warning("esptool: %s", " ".join(map(str, args)))

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        log.info("esptool: %s", " ".join(map(str, args)))

    def note(self, *args: Any) -> None:
        self.print(*args)

    def hint(self, *args: Any) -> None:
        self.print(*args)

    def debug(self, *args: Any) -> None:
        self.print(*args)

    def set_verbosity(self, mode: int | str) -> None:
        return None

    def progress_bar(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def quiet_esptool() -> Iterator[None]:
    old = EspLog.instance
    EspLog.instance = _ToLog()
    try:
        yield
    finally:
        EspLog.instance = old


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class Esp32Flasher:
    """Flash *port* (an open pyserial port, 8N1) behind which an ESP32 waits in download mode."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        retries: int = 5,
        progress: Progress | None = None,
    ) -> None:
        self.port = port
        self.retries = retries
        self.progress = progress or _no_progress
        self.report = Esp32Report()
        with quiet_esptool():  # it keeps its logger's note() for a later "no USB id" note
            self.esp = ESP32ROM(port, baud=port.baudrate)
        self.esp.trace = self._trace  # type: ignore[method-assign]

    def _trace(self, message: str, newline: bool = False) -> None:
        """esptool's trace hook: it says so when it repeats a block (counted as a retry)."""
        if "retrying with" in message:
            self.report.retries += 1

    # -- line -------------------------------------------------------------------------------
    def _resync(self) -> None:
        """Drop what is in flight and SYNC again (the ROM answers any time: no reset)."""
        self.report.resyncs += 1
        self.esp.connect(mode="no-reset", attempts=3, detecting=True, warnings=False)

    def _retrying(self, what: Callable[[], T], code: str, **args: object) -> T:
        for attempt in range(self.retries + 1):
            try:
                return what()
            except LINE_ERRORS as exc:
                log.info("ESP32 step failed (%s), attempt %d", exc, attempt + 1)
                if attempt == self.retries:
                    break
                self.report.retries += 1
                with contextlib.suppress(*LINE_ERRORS):
                    self._resync()
        raise FlashError(code, **args)

    # -- steps ------------------------------------------------------------------------------
    def connect(self) -> None:
        """SYNC, check that the part is an ESP32, read what it is; no write yet."""
        try:
            self.esp.connect(mode="no-reset", attempts=3, warnings=False)
        except LINE_ERRORS as exc:
            log.info("no ESP32 ROM loader: %s", exc)
            other = re.search(r"This chip is (\S+), not ESP32", str(exc))
            if other:  # another Espressif part answered: its chip-detect word says which
                raise FlashError("esp32_wrong_chip", port=self.port.port, chip=other[1]) from None
            raise FlashError("esp32_no_loader", port=self.port.port) from None
        esp = self.esp
        self.report.chip = self._retrying(esp.get_chip_description, "no_answer")
        mac = self._retrying(esp.read_mac, "no_answer")
        self.report.mac = ":".join(f"{b:02x}" for b in mac)
        self._retrying(lambda: attach_flash(esp), "no_answer")
        self.report.flash_kib = self._flash_size() // 1024

    def _flash_size(self) -> int:
        """The flash size from the JEDEC id, read until two reads agree."""

        def size() -> int:
            sizes = []
            for _ in range(2):
                flash_id = self.esp.flash_id(cache=False)
                name = DETECTED_FLASH_SIZES.get(flash_id >> 16)
                sizes.append(flash_size_bytes(name) if name else 0)
            if sizes[0] != sizes[1] or not sizes[0]:
                raise FatalError(f"flash size reads disagree or unknown: {sizes}")
            self.esp.flash_set_parameters(sizes[0])
            return sizes[0]

        return self._retrying(size, "esp32_no_flash")

    def write(self, address: int, image: bytes) -> None:
        esp = self.esp
        step = esp.FLASH_WRITE_SIZE
        blocks = -(-len(image) // step)
        self.report.blocks = blocks
        start = 0  # the block FLASH_BEGIN last began at (always at a sector's start)
        self.progress("erase", 0, 1)
        self._begin(address, image, start)
        self.progress("erase", 1, 1)
        seq = 0
        failures: dict[int, int] = {}  # block -> times it failed all of esptool's attempts
        while seq < blocks:
            block = image[seq * step : (seq + 1) * step].ljust(step, b"\xff")
            try:
                esp.flash_block(block, seq - start)
            except LINE_ERRORS as exc:
                failures[seq] = failures.get(seq, 0) + 1
                if failures[seq] > self.retries:
                    raise FlashError("write_failed", address=hex(address + seq * step)) from None
                self.report.retries += 1
                log.info("block %d failed (%s): resuming from its sector", seq, exc)
                with contextlib.suppress(*LINE_ERRORS):
                    self._resync()
                start = seq * step // SECTOR * SECTOR // step
                self._begin(address, image, start)
                seq = start
                continue
            seq += 1
            self.progress("write", seq, blocks)

    def _begin(self, address: int, image: bytes, first_block: int) -> None:
        """FLASH_BEGIN for the image from *first_block* on (the ROM erases its sectors)."""
        at = first_block * self.esp.FLASH_WRITE_SIZE
        self._retrying(
            lambda: self.esp.flash_begin(len(image) - at, address + at),
            "erase_failed",
        )

    def verify(self, address: int, image: bytes) -> None:
        """The ROM's MD5 of the region against the image's; see the module docstring."""
        want = hashlib.md5(image).hexdigest()
        self.progress("verify", 0, 1)
        rewrites = 0
        while True:
            for attempt in range(self.retries + 1):
                got = self._retrying(
                    lambda: self.esp.flash_md5sum(address, len(image)),
                    "read_failed",
                    address=hex(address),
                )
                if got == want:
                    self.progress("verify", 1, 1)
                    return
                if attempt < self.retries:
                    self.report.retries += 1
            if rewrites >= max(1, self.retries):
                raise FlashError("verify_failed", address=hex(address))
            rewrites += 1
            self.report.rewrites += 1
            self.write(address, image)

    def start(self, address: int) -> None:
        """FLASH_END with "run user code": the ROM jumps into the new application."""
        self._retrying(lambda: self.esp.run(reboot=False), "esp32_go_failed")
        self.report.started = True

    # -- all of it --------------------------------------------------------------------------
    def flash(self, image: bytes, address: int = APP_ADDRESS, go: bool = True) -> Esp32Report:
        """Connect, check the size, erase, write, verify, and start the application."""
        began = time.monotonic()
        if not image:
            raise FlashError("empty_image")
        if address < 0 or address % SECTOR:
            raise FlashError("esp32_bad_address", address=hex(address))
        padded = image + b"\xff" * (-len(image) % 4)  # the ROM programs whole words
        with quiet_esptool():
            self.connect()
            capacity = self.report.flash_kib * 1024
            if address + len(padded) > capacity:
                raise FlashError(
                    "too_big", size=len(image), capacity=capacity, address=hex(address)
                )
            self.report.address, self.report.size = address, len(image)
            self.write(address, padded)
            self.verify(address, padded)
            if go:
                self.start(address)
        self.report.seconds = time.monotonic() - began
        return self.report
