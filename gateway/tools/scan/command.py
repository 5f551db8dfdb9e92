"""``jagajalan gateway scan``: find Modbus RTU devices on a serial bus, and their profiles.

For every baud rate, parity and unit address asked for, one read request (one holding
register at address 0) goes out; an answer or a Modbus exception from that unit means a
device is there. Each device found is then read with the plan of every known profile
(gateway/devices/modbus/profiles/) and judged by :func:`gateway.tools.scan.core.judge`. Progress
goes to stderr (a bar with the time left), the ready-to-paste ``[[devices]]`` TOML to stdout, so
``jagajalan gateway scan --port /dev/ttyUSB0 > found.toml`` keeps only the TOML.

Exit status: 0 when at least one device answered, 1 when none did, 2 for bad arguments or a
port that does not exist or will not open, 130 when interrupted.

A device that answers at several settings (one that tolerates a parity it does not use, or a
pseudo-terminal, which cannot convey even parity) is reported once, at the setting that
answers most cleanly. The pure parts (argument parsing, classification, identification, the
snippet, the deduplication) are in :mod:`gateway.tools.scan.core`, the serial side in
:mod:`gateway.tools.scan.bus`; this module is the command around them.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time
from collections import Counter

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from gateway.tools.scan.bus import CONFIRM, Bus, confirm, identify, known_profiles, scan_bus
from gateway.tools.scan.core import (
    DEFAULT_BAUDS,
    DEFAULT_PARITY,
    DEFAULT_UNITS,
    Answer,
    ArgError,
    Found,
    Probe,
    dedupe,
    parse_bauds,
    parse_parities,
    parse_units,
    plan,
    snippet,
    values_text,
)
from kernel.text import Lang, T, tr
from kernel.times import wib_text

log = logging.getLogger(__name__)


def seen_ports() -> list[str]:
    """Serial ports present now, stable by-id names first (what a technician can pick)."""
    by_id = sorted(glob.glob("/dev/serial/by-id/*"))
    plain = sorted(
        glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyAMA*")
    )
    return by_id + plain


def run_scan(args: argparse.Namespace) -> int:
    lang: Lang = args.lang
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        bauds = parse_bauds(args.bauds or DEFAULT_BAUDS)
        units = parse_units(args.units or DEFAULT_UNITS)
        parities = parse_parities(args.parity or DEFAULT_PARITY)
        if not 0.02 <= args.timeout <= 5:
            raise ArgError("--timeout", str(args.timeout), T("scan.bad_timeout"))
    except ArgError as exc:
        err.print(exc.text().render(lang), markup=False)
        return 2
    if not os.path.exists(args.port):
        seen = ", ".join(seen_ports()) or tr("serial.none_seen", lang)
        err.print(tr("serial.missing", lang, port=args.port), markup=False)
        err.print("→ " + tr("serial.missing.remedy", lang, seen=seen), markup=False)
        return 2
    try:
        bus = Bus(args.port)
    except (OSError, ValueError) as exc:
        err.print(tr("scan.open_failed", lang, port=args.port, error=exc), markup=False)
        return 2
    try:
        return _scan(bus, args, lang, err, plan(bauds, parities, units), (bauds, parities, units))
    finally:
        bus.close()


def _scan(bus: Bus, args, lang: Lang, err: Console, probes: list[Probe], lists) -> int:
    bauds, parities, units = lists
    started = time.monotonic()
    estimate = round(len(probes) * (args.timeout + 0.01))
    err.print(
        tr(
            "scan.start",
            lang,
            port=args.port,
            probes=len(probes),
            bauds=len(bauds),
            parities=",".join(parities),
            units=len(units),
            seconds=estimate,
        ),
        markup=False,
    )
    noise: dict[tuple[int, str], list[int]] = {}
    found: list[Found] = []
    interrupted = False
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("", total=len(probes))

        def on_probe(p: Probe) -> None:
            text = tr("scan.progress", lang, baud=p.baud, frame=p.frame, unit=p.unit)
            progress.update(task, description=text)

        def on_answer(p: Probe, answer: Answer) -> None:
            progress.advance(task)
            if answer.outcome == "present":
                line = tr("scan.found", lang, unit=p.unit, baud=p.baud, frame=p.frame)
                progress.console.print(line, markup=False)
            elif answer.outcome == "exception":
                line = tr(
                    "scan.found_exception",
                    lang,
                    unit=p.unit,
                    baud=p.baud,
                    frame=p.frame,
                    code=answer.exception_code,
                )
                progress.console.print(line, markup=False)
            elif answer.outcome == "noise":
                noise.setdefault((p.baud, p.parity), []).append(p.unit)

        try:
            found = scan_bus(bus, probes, args.timeout, on_probe, on_answer)
        except KeyboardInterrupt:
            interrupted = True
    for (baud, parity), noisy_units in noise.items():
        if not any(f.probe.baud == baud and f.probe.parity == parity for f in found):
            shown = ",".join(str(u) for u in noisy_units[:8]) + (
                "…" if len(noisy_units) > 8 else ""
            )
            frame = Probe(baud, parity, 1).frame
            err.print(tr("scan.noise", lang, baud=baud, frame=frame, units=shown), markup=False)
    return _report(bus, args, lang, err, found, started, interrupted)


def _report(bus, args, lang: Lang, err: Console, found: list[Found], started, interrupted) -> int:
    if interrupted:
        err.print(tr("scan.interrupted", lang), markup=False)
    if found:
        found = _one_per_device(bus, args, lang, err, found)
    seconds = round(time.monotonic() - started)
    err.print(tr("scan.summary", lang, found=len(found), seconds=seconds), markup=False)
    if not found:
        err.print(tr("scan.none", lang, port=args.port), markup=False)
        err.print("→ " + tr("scan.none.remedy", lang), markup=False)
        return 130 if interrupted else 1
    err.print(tr("scan.snippet_intro", lang), markup=False)
    when = wib_text(time.time(), "%Y-%m-%d %H:%M")
    # The port as a config reads it anywhere: absolute (symbolic links such as by-id kept).
    sys.stdout.write(snippet(found, os.path.abspath(args.port), when, lang))
    sys.stdout.flush()
    return 130 if interrupted else 0


def _one_per_device(bus, args, lang: Lang, err: Console, found: list[Found]) -> list[Found]:
    """Identify every answer; a device that answered at several settings is reported once,
    at the setting that answers most cleanly (:func:`gateway.tools.scan.core.dedupe`)."""
    profiles = known_profiles()
    ident_timeout = max(0.3, 3 * args.timeout)
    for item in found:
        identify(bus, item, profiles, ident_timeout)
    per_unit = Counter(f.probe.unit for f in found)
    clean = {
        f.probe: confirm(bus, f.probe, args.timeout) for f in found if per_unit[f.probe.unit] > 1
    }
    kept = []
    for item, others in dedupe(found, clean):
        kept.append(item)
        p = item.probe
        head = tr("scan.result", lang, unit=p.unit, baud=p.baud, frame=p.frame)
        if item.match is None:
            what = tr("scan.unknown", lang)
        else:
            what = tr(
                "scan.identified",
                lang,
                profile=item.match.model,
                values=values_text(item.match.values, item.match.units),
            )
            if item.also:
                what += "; " + tr("scan.ambiguous", lang, profiles=", ".join(item.also))
        err.print(f"{head}: {what}", markup=False)
        if others:
            shown = ", ".join(f"{o.probe.baud} {o.probe.frame}" for o in others)
            line = tr(
                "scan.same_device",
                lang,
                unit=p.unit,
                others=shown,
                baud=p.baud,
                frame=p.frame,
                clean=clean.get(p, 0),
                tries=CONFIRM,
            )
            err.print(line, markup=False)
    return kept
