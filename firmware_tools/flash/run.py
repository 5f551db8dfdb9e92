"""One flashing run: claim the port from the gateway's driver, open it, flash, give it back.

Flashing takes image bytes and an address (:func:`flash_stm32`, :func:`flash_esp32`). Where
the bytes come from is the caller's: :func:`load_image` reads a raw image, or hands a bundle to
a verifier (a callable ``path -> image bytes`` that raises on a bundle it refuses, e.g. the
bundle tools' ``verify_bundle``), so nothing is written before the bundle's checks pass.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import serial

from firmware_tools.flash.errors import FlashError
from firmware_tools.flash.stm32 import FLASH_BASE, FlashReport, Progress, Stm32Flasher
from kernel.portclaim import PortClaimed, claim_port, claims_dir

if TYPE_CHECKING:
    from firmware_tools.flash.esp32 import Esp32Report

log = logging.getLogger(__name__)

#: where an ESP32 application goes by default (the default partition table's app slot)
ESP32_APP_ADDRESS = 0x10000

#: ``path -> image bytes``; raises when the file must not be flashed
Verifier = Callable[[Path], bytes]


def load_image(path: Path, verify: Verifier | None = None) -> bytes:
    """The bytes to flash from *path*: verified by *verify* when given, else read raw."""
    if verify is not None:
        return verify(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FlashError("image_unreadable", path=str(path), error=exc.strerror or exc) from None


@contextlib.contextmanager
def lent_port(
    port: str,
    *,
    baudrate: int = 115200,
    parity: str = "E",
    claims: Path | None = None,
    release_timeout: float = 30.0,
) -> Iterator[serial.Serial]:
    """The port, claimed from any gateway driver on it and opened exclusively, for the
    ``with`` block; the claim is removed afterwards so the driver takes it back.

    A claims folder that cannot be written (a technician's laptop without
    /run/jagajalan, as a normal user) means no gateway here can be reading the port through
    it: the run goes on without a claim, and a port held by another program is still found
    by the exclusive open (``port_busy``, naming the folder)."""
    folder = claims if claims is not None else claims_dir()
    if not os.path.exists(port):
        raise FlashError("port_gone", port=port)
    claim: contextlib.AbstractContextManager = contextlib.nullcontext()
    try:
        claim = claim_port(port, folder, by=f"jagajalan firmware flash (pid {os.getpid()})")
        claim.__enter__()
    except PortClaimed as exc:
        raise FlashError("port_claimed", port=port, by=exc.by) from None
    except OSError as exc:
        log.warning("no port claim (%s: %s): flashing without one", folder, exc)
        claim = contextlib.nullcontext()
    try:
        ser = _open_when_free(port, baudrate, parity, release_timeout, folder)
        try:
            yield ser
        finally:
            with contextlib.suppress(OSError):
                ser.close()
    finally:
        claim.__exit__(None, None, None)


def _open_when_free(
    port: str, baudrate: int, parity: str, limit: float, folder: Path
) -> serial.Serial:
    """Open *port* exclusively, waiting up to *limit* s for a driver to let go of it."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return serial.Serial(
                port,
                baudrate=baudrate,
                parity=parity,
                bytesize=8,
                stopbits=1,
                timeout=1.0,
                exclusive=True,
            )
        except (OSError, ValueError) as exc:
            code = getattr(exc, "errno", None)
            if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or not os.path.exists(port):
                raise FlashError("port_gone", port=port) from None
            held = "lock" in str(exc) or code in (errno.EBUSY, errno.EAGAIN)
            if not held:
                raise FlashError("port_error", port=port, error=str(exc)) from None
            if time.monotonic() >= deadline:
                raise FlashError(
                    "port_busy", port=port, seconds=f"{limit:g}", folder=str(folder)
                ) from None
            time.sleep(0.2)  # the driver checks its claim every 0.5 s


def flash_stm32(
    port: str,
    image: bytes,
    address: int = FLASH_BASE,
    *,
    baudrate: int = 115200,
    parity: str = "E",
    retries: int = 5,
    timeout: float = 1.0,
    go: bool = True,
    progress: Progress | None = None,
    claims: Path | None = None,
    release_timeout: float = 30.0,
) -> FlashReport:
    """Flash *image* at *address* into the STM32 behind *port*; see :mod:`.stm32`."""
    with lent_port(
        port, baudrate=baudrate, parity=parity, claims=claims, release_timeout=release_timeout
    ) as ser:
        flasher = Stm32Flasher(ser, retries=retries, timeout=timeout, progress=progress)
        try:
            return flasher.flash(image, address, go=go)
        except (OSError, serial.SerialException) as exc:
            raise FlashError("port_error", port=port, error=str(exc)) from None


def flash_esp32(
    port: str,
    image: bytes,
    address: int = ESP32_APP_ADDRESS,
    *,
    baudrate: int = 115200,
    retries: int = 5,
    go: bool = True,
    progress: Progress | None = None,
    claims: Path | None = None,
    release_timeout: float = 30.0,
) -> Esp32Report:
    """Flash *image* at *address* into the ESP32 (in download mode) behind *port*, through
    its ROM loader with esptool (the ``esp32`` extra); see :mod:`.esp32`. The port is claimed
    and opened exactly as for an STM32 (8N1: the ROM loader's line)."""
    try:
        from firmware_tools.flash.esp32 import Esp32Flasher
    except ImportError:
        raise FlashError("esp32_needs_esptool") from None
    with lent_port(
        port, baudrate=baudrate, parity="N", claims=claims, release_timeout=release_timeout
    ) as ser:
        try:
            flasher = Esp32Flasher(ser, retries=retries, progress=progress)
            return flasher.flash(image, address, go=go)
        except (OSError, serial.SerialException) as exc:
            raise FlashError("port_error", port=port, error=str(exc)) from None
