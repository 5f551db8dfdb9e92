"""`jagajalan firmware flash`: write a firmware image into a sensor node over its serial port.

IMAGE is a raw image (.bin) or a signed bundle (.jjfw, docs/firmware.md): a bundle is checked
(signature by one of the public keys, hardware target, expiry, anti-rollback counter) before
the port is even opened, and only its image is written.

The node type is ``--target`` or, without it, the bundle's hardware target (``--hardware``): a
name starting with ``esp32`` is an ESP32 node (ROM loader, esptool), anything else an STM32
(USART bootloader, stm32loader). The bundle checks are the same for both.

Exit codes: 0 written, verified (and started unless --no-start); 1 the flashing failed (the
message says at which step) or the bundle was refused (the message names the check), nothing
written then; 2 bad input (unreadable image, bad address, no keys), nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from firmware_tools.flash.run import Verifier

BAUDS = (9600, 19200, 38400, 57600, 115200)
#: where an image goes when --address is not given
DEFAULT_ADDRESS = {"stm32": 0x0800_0000, "esp32": 0x10000}


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give an address like 0x08000000") from None


def add_commands(actions: argparse._SubParsersAction, verifier: Verifier | None = None) -> None:
    """Add ``flash`` to the ``firmware`` group. *verifier*: when given, IMAGE is a bundle
    checked by it (``path -> image bytes``) before anything is written."""
    from kernel.text import LANGS, default_lang

    p = actions.add_parser(
        "flash",
        help="write a firmware image into a sensor node (STM32 or ESP32 serial bootloader)",
        description=(
            "Write IMAGE into a sensor node through its serial port, erase only the pages it "
            "covers, read it all back to verify, and start it. Blocks hit by line noise are "
            "retried. A gateway driver using the same port lends it for the duration "
            "(docs/firmware.md). STM32: hold BOOT0 at 1 and reset the node first; ESP32: hold "
            "BOOT (GPIO0) while pressing EN first."
        ),
    )
    p.add_argument(
        "image", type=Path, metavar="IMAGE", help="signed bundle (.jjfw) or raw image (.bin)"
    )
    p.add_argument(
        "--hardware",
        help="a bundle's hardware target, e.g. stm32f103-node or esp32-node (required for a "
        ".jjfw; esp32* selects an ESP32 node)",
    )
    p.add_argument(
        "--key",
        type=Path,
        action="append",
        default=None,
        help="public key file or folder of *.pub for a bundle (repeatable; default "
        "/etc/jagajalan/firmware-keys)",
    )
    p.add_argument(
        "--installed-counter",
        type=int,
        default=None,
        help="a bundle with a lower anti-rollback counter is refused",
    )
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument(
        "--target",
        choices=sorted(DEFAULT_ADDRESS),
        default=None,
        help="node type (default: from --hardware, esp32* is esp32; else stm32)",
    )
    p.add_argument(
        "--address",
        type=_address,
        default=None,
        help="where the image goes (default 0x08000000 on an STM32, 0x10000 on an ESP32: "
        "the application slot)",
    )
    p.add_argument("--baud", type=int, choices=BAUDS, default=115200, help="default 115200")
    p.add_argument(
        "--parity",
        choices=["E", "N"],
        default="E",
        help="STM32 only: E (the bootloader's, default) or N (emulated nodes on a "
        "pseudo-terminal); an ESP32's ROM loader is always 8N1",
    )
    p.add_argument("--retries", type=int, default=5, help="attempts per block after the first")
    p.add_argument(
        "--timeout",
        type=float,
        default=1.0,
        help="STM32: seconds to wait for an answer (esptool keeps its own on an ESP32)",
    )
    p.add_argument(
        "--release-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for a gateway driver to let go of the port",
    )
    p.add_argument("--no-start", action="store_true", help="do not start the new firmware")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    p.set_defaults(func=lambda args: run_flash(args, verifier))


#: A signed bundle's file name ends so (firmware_tools/bundle)
BUNDLE_SUFFIX = ".jjfw"


def bundle_verifier(args: argparse.Namespace) -> Verifier | int:
    """``path -> image`` checking the bundle with the options' keys, hardware target and
    counter (a :class:`FlashError` ``bundle_refused`` naming the check); an exit code when
    the options cannot check one."""
    from firmware_tools.bundle.keys import load_public_keys
    from firmware_tools.bundle.verify import BundleError, verify_bundle
    from firmware_tools.flash.errors import FlashError
    from firmware_tools.paths import PUBLIC_KEY_DIR
    from kernel.text import TextError, said, tr

    if not args.hardware:
        print(tr("flash.bundle_needs_hardware", args.lang), file=sys.stderr)
        return 2
    paths = args.key or [PUBLIC_KEY_DIR]
    try:
        keys = load_public_keys(paths)
        if not keys:
            raise TextError("fw.verify.no_keys", paths=", ".join(map(str, paths)))
    except TextError as exc:
        print(said(exc).render(args.lang), file=sys.stderr)
        return 2

    def verify(path: Path) -> bytes:
        try:
            bundle = verify_bundle(path, keys, args.hardware, args.installed_counter)
        except BundleError as exc:
            raise FlashError("bundle_refused", reason=exc.render(args.lang)) from None
        return bundle.image

    return verify


def node_type(args: argparse.Namespace) -> str | None:
    """``--target``, else the bundle's hardware target's family; None when they disagree."""
    hardware = (args.hardware or "").lower()
    from_hardware = "esp32" if hardware.startswith("esp32") else "stm32"
    if args.target is None:
        return from_hardware
    if hardware and args.target != from_hardware:
        return None
    return args.target


def run_flash(args: argparse.Namespace, verifier: Verifier | None = None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from firmware_tools.flash.errors import FlashError
    from firmware_tools.flash.run import load_image
    from kernel.text import tr

    lang = args.lang
    err = Console(stderr=True)
    target = node_type(args)
    if target is None:
        print(
            tr("flash.bad_target", lang, target=args.target, hardware=args.hardware),
            file=sys.stderr,
        )
        return 2
    if verifier is None and args.image.suffix == BUNDLE_SUFFIX:
        verifier = bundle_verifier(args)
        if isinstance(verifier, int):
            return verifier
    try:
        image = load_image(args.image, verifier)
    except FlashError as exc:
        print(tr("flash.failed", lang, reason=exc.render(lang)), file=sys.stderr)
        return 1 if exc.code == "bundle_refused" else 2
    if args.retries < 0 or args.timeout <= 0:
        option, value = ("--retries", args.retries) if args.retries < 0 else ("--timeout", 0)
        print(tr("flash.bad_option", lang, option=option, value=value), file=sys.stderr)
        return 2
    address = DEFAULT_ADDRESS[target] if args.address is None else args.address
    bars = Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=args.quiet,
    )
    tasks: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(tr(f"flash.phase.{phase}", lang), total=total)
        bars.update(tasks[phase], completed=done, total=total)

    try:
        with bars:
            lines = _flash(target, args, image, address, progress)
    except FlashError as exc:
        print(tr("flash.failed", lang, reason=exc.render(lang)), file=sys.stderr)
        return 2 if exc.code in BAD_INPUT else 1
    for line in lines:
        print(line)
    return 0


#: failures that are the options' or the image's fault: nothing was written
BAD_INPUT = ("empty_image", "bad_address", "esp32_bad_address", "too_big", "esp32_needs_esptool")


def _flash(
    target: str, args: argparse.Namespace, image: bytes, address: int, progress: Any
) -> list[str]:
    """Flash with the node type's tool; the lines to print afterwards."""
    from firmware_tools.flash.run import flash_esp32, flash_stm32
    from kernel.text import tr

    lang = args.lang
    if target == "esp32":
        esp = flash_esp32(
            args.port,
            image,
            address,
            baudrate=args.baud,
            retries=args.retries,
            go=not args.no_start,
            progress=progress,
            release_timeout=args.release_timeout,
        )
        chip = tr("flash.esp32_chip", lang, chip=esp.chip, mac=esp.mac, flash_kib=esp.flash_kib)
        done, started = esp, "flash.started" if esp.started else "flash.esp32_not_started"
    else:
        report = flash_stm32(
            args.port,
            image,
            address,
            baudrate=args.baud,
            parity=args.parity,
            retries=args.retries,
            timeout=args.timeout,
            go=not args.no_start,
            progress=progress,
            release_timeout=args.release_timeout,
        )
        version = report.bootloader_version
        chip = tr(
            "flash.chip",
            lang,
            chip=f"0x{report.chip_id:03X}",
            version=f"{version >> 4}.{version & 0xF}",
            flash_kib=report.flash_kib,
        )
        done, started = report, "flash.started" if report.started else "flash.not_started"
    summary = tr(
        "flash.done",
        lang,
        size=done.size,
        address=f"0x{done.address:08X}",
        seconds=f"{done.seconds:.1f}",
        retries=done.retries,
    )
    return [chip, summary, tr(started, lang)]
