"""``jagajalan gateway scan``: find Modbus RTU devices on a serial bus, and their profiles.

For every baud rate, parity and unit address asked for, one read request (one holding
register at address 0) goes out; an answer or a Modbus exception from that unit means a
device is there. Each device found is then read with the plan of every known profile
(gateway/devices/modbus/profiles/) and judged by :func:`gateway.tools.scan.core.judge`. Progress
goes to stderr (a bar with the time left), the ready-to-paste ``[[devices]]`` TOML to stdout, so
``jagajalan gateway scan --port /dev/ttyUSB0 > found.toml`` keeps only the TOML.

Exit status: 0 when at least one device answered, 1 when none did, 2 for bad arguments or a
port that does not exist or will not open, 130 when interrupted.

The pure parts (argument parsing, classification, identification, the snippet) are in
:mod:`gateway.tools.scan.core`; this module is the serial-port glue around them.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time
from collections.abc import Callable

import serial
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from gateway.devices.modbus import identify as modbus_identify
from gateway.devices.modbus.frames import build_read_request
from gateway.devices.modbus.profile import (
    PROFILE_DIR,
    CompiledProfile,
    compile_profile,
    load_profile,
)
from gateway.tools.scan.core import (
    DEFAULT_BAUDS,
    DEFAULT_PARITY,
    DEFAULT_UNITS,
    PROBE_ADDRESS,
    PROBE_COUNT,
    PROBE_FUNCTION,
    Answer,
    ArgError,
    Found,
    Match,
    Probe,
    best,
    classify,
    judge,
    parse_bauds,
    parse_parities,
    parse_units,
    plan,
    snippet,
    values_text,
)
from kernel.config import ConfigError
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


class Bus:
    """One serial port for scanning: settings changed in place, one request at a time."""

    def __init__(self, port: str) -> None:
        self.port = serial.Serial(port, baudrate=9600, timeout=0.02, exclusive=True)
        self.gap = 0.005

    def configure(self, baud: int, parity: str) -> None:
        if (self.port.baudrate, self.port.parity) != (baud, parity):
            self.port.baudrate = baud
            self.port.parity = parity
        # The Modbus inter-frame silence: 3.5 characters of 11 bits (at least 5 ms).
        self.gap = max(0.005, 3.5 * 11 / baud)

    def transact(
        self, request: bytes, unit: int, function: int, count: int, timeout: float
    ) -> bytes:
        """Send *request*; the bytes of the answer (empty if none came within *timeout*)."""
        time.sleep(self.gap)
        self.port.reset_input_buffer()
        self.port.write(request)
        self.port.flush()
        rx = bytearray()
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while (now := time.monotonic()) < deadline:
            if quiet_until is not None and now >= quiet_until:
                break  # a corrupt answer ended: no more bytes for a frame gap
            self.port.timeout = min(0.02, deadline - now)
            chunk = self.port.read(self.port.in_waiting or 1)
            if not chunk:
                continue
            rx += chunk
            if rx.startswith(request) and len(rx) >= len(request):
                del rx[: len(request)]  # some RS-485 adapters echo what they send
                continue
            answer = classify(bytes(rx), unit, function, count)
            if answer.outcome in ("present", "exception"):
                break
            truncated = answer.detail.startswith("truncated")
            quiet_until = None if truncated else time.monotonic() + self.gap + 0.02
        return bytes(rx)

    def close(self) -> None:
        self.port.close()


def probe(bus: Bus, p: Probe, timeout: float) -> Answer:
    bus.configure(p.baud, p.parity)
    request = build_read_request(p.unit, PROBE_FUNCTION, PROBE_ADDRESS, PROBE_COUNT)
    raw = bus.transact(request, p.unit, PROBE_FUNCTION, PROBE_COUNT, timeout)
    return classify(raw, p.unit, PROBE_FUNCTION, PROBE_COUNT)


class ReadFailed(Exception):
    """A read during identification that got no usable answer."""


def cached_reader(bus: Bus, unit: int, timeout: float) -> Callable[[int, int, int], list[int]]:
    """``read(function, address, count) -> registers`` for *unit*, raising
    :class:`ReadFailed`; each distinct read goes on the bus once (profiles share blocks)."""
    cache: dict[tuple[int, int, int], list[int] | ReadFailed] = {}

    def read(function: int, address: int, count: int) -> list[int]:
        key = (function, address, count)
        if key not in cache:
            request = build_read_request(unit, function, address, count)
            answer = Answer("silent")
            for _ in range(2):  # one retry: identification reads are few, worth being sure
                raw = bus.transact(request, unit, function, count, timeout)
                answer = classify(raw, unit, function, count)
                if answer.outcome in ("present", "exception"):
                    break
            if answer.outcome == "present":
                cache[key] = list(answer.registers)
            else:
                cache[key] = ReadFailed(answer.detail or answer.outcome)
        result = cache[key]
        if isinstance(result, ReadFailed):
            raise result
        return result

    return read


def read_plan(
    read: Callable[[int, int, int], list[int]], profile: CompiledProfile
) -> tuple[dict[int, int] | None, str]:
    """Every block a profile plans: (registers by address, "") or (None, why not)."""
    registers: dict[int, int] = {}
    for start, count in profile.blocks:
        try:
            values = read(profile.function_code, start, count)
        except ReadFailed as exc:
            return None, str(exc)
        registers.update(zip(range(start, start + count), values, strict=True))
    return registers, ""


#: Score of a model recognised by its [identify] register: beats any match by ranges.
REGISTER_SCORE = 1000


def match_profile(profile: CompiledProfile, read: Callable[[int, int, int], list[int]]) -> Match:
    """Judge one profile: by its ``[identify]`` register or field ranges
    (:mod:`gateway.devices.modbus.identify`), else by the plausibility fallback of
    :func:`gateway.tools.scan.core.judge`."""
    verdict = modbus_identify.identify(profile, read)
    if verdict.method == "none":
        registers, why = read_plan(read, profile)
        return judge(profile, registers, why)
    model = profile.profile.model
    if not verdict.matched:
        return Match(model, False, reason=verdict.detail)
    registers, _ = read_plan(read, profile)
    shown = judge(profile, registers)  # for the values shown (any fit verdict is ignored)
    if verdict.method == "register":
        score = REGISTER_SCORE
    else:
        score = sum(1 for f in profile.profile.fields if getattr(f, "range", None) is not None)
    return Match(model, True, score, shown.values, verdict.detail, shown.units)


def known_profiles() -> list[CompiledProfile]:
    """Every loadable profile in gateway/devices/modbus/profiles/ (a broken one is logged and
    skipped)."""
    profiles = []
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        try:
            profiles.append(compile_profile(load_profile(path)))
        except (ConfigError, ValueError) as exc:
            log.warning("profile %s skipped: %s", path.name, exc)
    return profiles


def identify(bus: Bus, found: Found, profiles: list[CompiledProfile], timeout: float) -> None:
    """Fill in found.match / found.also by reading the device with each profile."""
    bus.configure(found.probe.baud, found.probe.parity)
    read = cached_reader(bus, found.probe.unit, timeout)
    found.match, found.also = best([match_profile(profile, read) for profile in profiles])
    if found.match is not None:
        chosen = next(p for p in profiles if p.profile.model == found.match.model)
        found.measurement = chosen.measurement
        found.required = [
            (name, spec.description, spec.unit, spec.range)
            for name, spec in getattr(chosen.profile, "params", {}).items()
            if spec.default is None
        ]


def scan_bus(
    bus: Bus,
    probes: list[Probe],
    timeout: float,
    on_probe: Callable[[Probe], None],
    on_answer: Callable[[Probe, Answer], None],
) -> list[Found]:
    found = []
    for p in probes:
        on_probe(p)
        answer = probe(bus, p, timeout)
        on_answer(p, answer)
        if answer.outcome in ("present", "exception"):
            found.append(Found(p, exception_code=answer.exception_code))
    return found


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
        profiles = known_profiles()
        ident_timeout = max(0.3, 3 * args.timeout)
        for item in found:
            identify(bus, item, profiles, ident_timeout)
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
    seconds = round(time.monotonic() - started)
    err.print(tr("scan.summary", lang, found=len(found), seconds=seconds), markup=False)
    if not found:
        err.print(tr("scan.none", lang, port=args.port), markup=False)
        err.print("→ " + tr("scan.none.remedy", lang), markup=False)
        return 130 if interrupted else 1
    err.print(tr("scan.snippet_intro", lang), markup=False)
    when = wib_text(time.time(), "%Y-%m-%d %H:%M")
    sys.stdout.write(snippet(found, args.port, when, lang))
    sys.stdout.flush()
    return 130 if interrupted else 0
