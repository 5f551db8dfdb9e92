"""The pure core of ``jagajalan gateway scan``: no serial port, no clock.

- :func:`parse_bauds`, :func:`parse_units`, :func:`parse_parities`: command-line lists, with
  :class:`ArgError` naming the option, the value and the problem.
- :func:`plan`: the probes, baud rate first (devices on one bus share it), then parity, unit.
- :func:`classify`: the bytes that came back after a probe -> present / exception / silent /
  noise, judged by the frame core (:mod:`gateway.devices.modbus.frames`).
- :func:`judge`: registers read with a profile's plan -> does this device look like that
  profile? Values must decode, be finite, not all zero, and lie in each field's plausible
  range (the profile's own ``range`` when it has one, else :data:`PLAUSIBLE`).
- :func:`dedupe`: one entry per device when a unit answered at several settings (a line or a
  pseudo-terminal that cannot tell them apart): the setting that answered most cleanly.
- :func:`snippet`: ready-to-paste ``[[devices]]`` tables for what was found.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.devices.modbus.frames import ModbusFrameError, parse_read_response
from gateway.devices.modbus.profile import CompiledProfile, ProfileDecodeError, ProfileField
from kernel.text import Lang, T, Text, tr

#: Baud rates a gateway config accepts (gateway.devices.base.SerialPort).
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
#: Most common first, so a device is usually found early.
DEFAULT_BAUDS = "9600,19200,4800,38400,57600,115200,2400"
DEFAULT_UNITS = "1-32"
DEFAULT_PARITY = "N"
PARITY_FRAME = {"N": "8N1", "E": "8E1", "O": "8O1"}
#: The probe: read one holding register at address 0. A device answers with the register
#: or with an exception (e.g. illegal data address): either way it is there.
PROBE_FUNCTION, PROBE_ADDRESS, PROBE_COUNT = 3, 0, 1

#: Plausible physical ranges of the protocol's fields (docs/protocol.md table 2.2), for
#: profiles whose fields carry no ``range`` of their own. Wide on purpose: they catch wrong
#: scale, offset, word order or a different device, not unusual weather.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "pm25": (0, 1000),
    "pm10": (0, 2000),
    "temperature": (-20, 70),
    "humidity": (0, 100),
    "pressure": (800, 1100),
    "rain": (0, 500),
    "wind_speed": (0, 75),
    "wind_direction": (0, 360),
    "level": (-500, 3000),
    "distance": (0, 3000),
    "surface_temperature": (-20, 90),
    "water_film": (0, 50),
    "count": (0, 100_000),
    "speed_mean": (0, 300),
}


class ArgError(ValueError):
    """A bad command-line value: the option, the value and the problem (a :class:`Text`)."""

    def __init__(self, option: str, value: str, problem: Text) -> None:
        self.option, self.value, self.problem = option, value, problem
        super().__init__(self.text().render("en"))

    def text(self) -> Text:
        return T("scan.bad_arg", option=self.option, value=self.value, problem=self.problem)


def parse_bauds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if not part.strip().isdigit():
            raise ArgError("--bauds", text, T("scan.bad_bauds"))
        baud = int(part)
        if baud not in BAUDS:
            known = ",".join(str(b) for b in BAUDS)
            raise ArgError("--bauds", text, T("scan.bad_baud", baud=baud, known=known))
        if baud not in out:
            out.append(baud)
    return out


def parse_units(text: str) -> list[int]:
    units: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?", part)
        if m is None:
            raise ArgError("--units", text, T("scan.bad_units"))
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi:
            raise ArgError("--units", text, T("scan.bad_units"))
        for unit in (lo, hi):
            if not 1 <= unit <= 247:
                raise ArgError("--units", text, T("scan.bad_unit", unit=unit))
        units += [u for u in range(lo, hi + 1) if u not in units]
    return units


def parse_parities(text: str) -> list[str]:
    out: list[str] = []
    for part in text.upper().split(","):
        part = part.strip()
        if part not in PARITY_FRAME:
            raise ArgError("--parity", text, T("scan.bad_parity"))
        if part not in out:
            out.append(part)
    return out


@dataclass(frozen=True)
class Probe:
    baud: int
    parity: str
    unit: int

    @property
    def frame(self) -> str:
        return PARITY_FRAME[self.parity]


def plan(bauds: Sequence[int], parities: Sequence[str], units: Sequence[int]) -> list[Probe]:
    return [Probe(b, p, u) for b in bauds for p in parities for u in units]


Outcome = Literal["present", "exception", "silent", "noise"]


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str = ""
    exception_code: int | None = None
    registers: tuple[int, ...] = ()


def classify(raw: bytes, unit: int, function: int = PROBE_FUNCTION, count: int = 1) -> Answer:
    """What the bytes received after a read request to *unit* say about the bus."""
    if not raw:
        return Answer("silent")
    try:
        registers = parse_read_response(raw, unit, function, count)
    except ModbusFrameError as exc:
        if exc.reason == "exception":
            return Answer("exception", exc.detail, exc.exception_code)
        return Answer("noise", str(exc))
    return Answer("present", registers=tuple(registers))


def field_range(f: ProfileField) -> tuple[float, float] | None:
    """The plausible range of a profile field: its own ``range`` if the profile gives one."""
    own = getattr(f, "range", None)
    if own is not None:
        lo, hi = own
        return float(lo), float(hi)
    return PLAUSIBLE.get(f.name)


def out_of_range(
    fields: Iterable[ProfileField], values: Mapping[str, float]
) -> list[tuple[str, float, float, float]]:
    """(name, value, low, high) for every value outside its field's plausible range."""
    bad = []
    for f in fields:
        value, limits = values.get(f.name), field_range(f)
        if value is None or limits is None:
            continue
        if not (math.isfinite(value) and limits[0] <= value <= limits[1]):
            bad.append((f.name, value, limits[0], limits[1]))
    return bad


@dataclass
class Match:
    """How well the registers read with one profile fit it."""

    model: str
    fits: bool
    score: int = 0  # fields with a known range that lie in it
    values: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why it does not fit, or how it was recognised
    units: dict[str, str] = field(default_factory=dict)


def judge(profile: CompiledProfile, registers: Mapping[int, int] | None, why: str = "") -> Match:
    """Does a device whose planned blocks read as *registers* (None: a block could not be
    read, *why*) look like *profile*?"""
    model = profile.profile.model
    if registers is None:
        return Match(model, False, reason=why or "not readable")
    units = {f.name: f.unit for f in profile.profile.fields}
    try:
        values = profile.decode(registers)
    except ProfileDecodeError as exc:
        return Match(model, False, reason=str(exc))
    if not all(math.isfinite(v) for v in values.values()):
        return Match(model, False, values=values, reason="non-finite value", units=units)
    if all(v == 0 for v in values.values()):
        return Match(model, False, values=values, reason="every value is 0", units=units)
    fields = profile.profile.fields
    bad = out_of_range(fields, values)
    if bad:
        shown = ", ".join(f"{n}={v:g} not in {lo:g}..{hi:g}" for n, v, lo, hi in bad)
        return Match(model, False, values=values, reason=shown, units=units)
    score = sum(1 for f in fields if field_range(f) is not None)
    return Match(model, True, score, values, units=units)


def best(matches: Sequence[Match]) -> tuple[Match | None, list[str]]:
    """The best-fitting profile, and the others that fit as well (ambiguous if any)."""
    fitting = sorted((m for m in matches if m.fits), key=lambda m: (-m.score, m.model))
    if not fitting:
        return None, []
    top = fitting[0]
    return top, [m.model for m in fitting[1:] if m.score == top.score]


@dataclass
class Found:
    """A device that answered, with what is known about it."""

    probe: Probe
    exception_code: int | None = None
    match: Match | None = None
    also: list[str] = field(default_factory=list)
    measurement: str | None = None
    #: Params the chosen profile needs from the gateway config: (name, description, unit,
    #: range or None). They are site facts (e.g. a mounting height), never guessed here.
    required: list[tuple[str, str, str, tuple[float, float] | None]] = field(default_factory=list)


def same_device(a: Found, b: Found) -> bool:
    """Answers at two settings come from one device when the unit address is the same and it
    identifies alike: the same profile (or both unknown) and the same exception code."""
    return (
        a.probe.unit == b.probe.unit
        and (a.match.model if a.match else None) == (b.match.model if b.match else None)
        and a.exception_code == b.exception_code
    )


def dedupe(found: Sequence[Found], clean: Mapping[Probe, int]) -> list[tuple[Found, list[Found]]]:
    """One entry per device: (what is kept, the other settings it also answered at). Kept: the
    setting with the most clean answers in *clean* (by probe; missing: 0), the first probed of
    equals. Two devices with one unit address that identify differently stay two entries."""
    groups: list[list[Found]] = []
    for item in found:
        group = next((g for g in groups if same_device(g[0], item)), None)
        if group is None:
            groups.append([item])
        else:
            group.append(item)
    out = []
    for group in groups:
        keep = max(group, key=lambda f: clean.get(f.probe, 0))  # the first of equals
        out.append((keep, [f for f in group if f is not keep]))
    return out


def values_text(values: Mapping[str, float], units: Mapping[str, str] | None = None) -> str:
    units = units or {}
    return ", ".join(f"{k}={v:g}{' ' + units[k] if k in units else ''}" for k, v in values.items())


_ID_PREFIX = {"air_quality": "env", "weather": "wx", "water_level": "water", "road_surface": "road"}


def device_ids(found: Sequence[Found]) -> list[str]:
    """Ids for the snippet: env1, env2, wx1, ... by measurement; sensor1 when unknown."""
    counters: dict[str, int] = {}
    ids = []
    for item in found:
        prefix = _ID_PREFIX.get(item.measurement or "", "sensor")
        counters[prefix] = counters.get(prefix, 0) + 1
        ids.append(f"{prefix}{counters[prefix]}")
    return ids


def snippet(found: Sequence[Found], port: str, when_wib: str, lang: Lang = "id") -> str:
    """``[[devices]]`` tables for the devices found, with comments in *lang*."""
    blocks = []
    for ident, item in zip(device_ids(found), found, strict=True):
        p = item.probe
        lines = [
            tr("scan.snippet_found", lang, time=when_wib, unit=p.unit, baud=p.baud, frame=p.frame)
        ]
        if item.match is not None:
            lines.append(
                tr(
                    "scan.snippet_values",
                    lang,
                    values=values_text(item.match.values, item.match.units),
                )
            )
            if item.also:
                lines.append(tr("scan.snippet_also", lang, profiles=", ".join(item.also)))
            profile = item.match.model
        else:
            lines.append(tr("scan.snippet_unknown", lang))
            profile = "unknown"
        for name, description, unit, limits in item.required:
            shown = f", {limits[0]:g}..{limits[1]:g}" if limits else ""
            lines.append(
                tr(
                    "scan.snippet_param",
                    lang,
                    name=name,
                    description=description,
                    unit=unit,
                    range=shown,
                )
            )
        serial = (
            f"{{ port = {json.dumps(port)}, baudrate = {p.baud}, parity = {json.dumps(p.parity)},"
            " timeout = 0.5 }"
        )
        lines += [
            "[[devices]]",
            f'id = "{ident}"',
            'driver = "modbus"',
            f"serial = {serial}",
            f"unit = {p.unit}",
            f"profile = {json.dumps(profile)}",
            "poll_interval = 10.0",
        ]
        if item.required:
            lines.append(
                "# params = { " + ", ".join(f"{n} = ..." for n, *_ in item.required) + " }"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
