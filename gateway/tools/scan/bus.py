"""The serial side of ``jagajalan gateway scan`` (and of the doctor's search for a device's
line settings): one port, settings changed in place, one request at a time.

- :class:`Bus`, :func:`probe`: one read request at one baud rate and parity.
- :func:`scan_bus`: the probes of a plan; :func:`confirm`: how cleanly a setting answers.
- :func:`identify`: read a device found with the plan of every known profile.
- :func:`find_unit`: the setting at which one unit answers (``gateway doctor``'s remedy for a
  device that is silent or garbled at its configured settings).

The judging is pure (:mod:`gateway.tools.scan.core`).
"""

from __future__ import annotations

import errno
import logging
import termios
import time
from collections.abc import Callable, Sequence

import serial

from gateway.devices.modbus import identify as modbus_identify
from gateway.devices.modbus.frames import build_read_request
from gateway.devices.modbus.profile import (
    PROFILE_DIR,
    CompiledProfile,
    compile_profile,
    load_profile,
)
from gateway.tools.scan.core import (
    BAUDS,
    DEFAULT_BAUDS,
    PROBE_ADDRESS,
    PROBE_COUNT,
    PROBE_FUNCTION,
    Answer,
    Found,
    Match,
    Probe,
    best,
    classify,
    judge,
)
from kernel.config import ConfigError

log = logging.getLogger(__name__)

#: Probes per setting when a unit answered at several: the cleanest setting is kept.
CONFIRM = 3


class Bus:
    """One serial port for scanning: settings changed in place, one request at a time."""

    def __init__(self, port: str) -> None:
        self.port = serial.Serial(port, baudrate=9600, timeout=0.02, exclusive=True)
        self.gap = 0.005

    def configure(self, baud: int, parity: str) -> None:
        if (self.port.baudrate, self.port.parity) != (baud, parity):
            self._set("baudrate", baud)
            self._set("parity", parity)
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
            self._set("timeout", min(0.02, deadline - now))
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

    def _set(self, name: str, value: object) -> None:
        """Change a setting of the open port. On a pseudo-terminal (an emulated line) glibc
        reports EINVAL when the pty dropped what it cannot keep (even parity) and nothing
        else changed; the rest is applied, so the probe goes on (at no parity, which is what
        a pty carries). A real serial port never gets here."""
        try:
            setattr(self.port, name, value)
        except termios.error as exc:
            if exc.args[0] != errno.EINVAL:
                raise

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


def confirm(bus: Bus, p: Probe, timeout: float, tries: int = CONFIRM) -> int:
    """How many of *tries* probes at *p*'s settings get a clean answer (a frame with a good
    CRC from that unit): on a real line a setting that is nearly right answers now and then."""
    return sum(probe(bus, p, timeout).outcome in ("present", "exception") for _ in range(tries))


def search_order(unit: int, baud: int, parity: str) -> list[Probe]:
    """Settings to try for a unit configured at *baud* and *parity*, the configured one
    excluded: every other baud rate at that parity, the most common first (a wrong baud rate
    is the most common fault), then the other parities at that baud rate."""
    common_first = [int(b) for b in DEFAULT_BAUDS.split(",")]
    bauds = common_first + [b for b in BAUDS if b not in common_first]
    out = [Probe(b, parity, unit) for b in bauds if b != baud]
    return out + [Probe(baud, p, unit) for p in ("N", "E", "O") if p != parity]


def find_unit(port: str, probes: Sequence[Probe], timeout: float) -> Probe | None:
    """The first of *probes* at which its unit answers cleanly on *port*; None if none does
    (or the port will not open)."""
    try:
        bus = Bus(port)
    except (OSError, ValueError) as exc:
        log.info("cannot search %s: %s", port, exc)
        return None
    try:
        for p in probes:
            if probe(bus, p, timeout).outcome in ("present", "exception"):
                return p
        return None
    finally:
        bus.close()
