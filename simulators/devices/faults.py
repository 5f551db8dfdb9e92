"""Fault injection for emulated devices: bad bytes, slow or silent devices, pulled cables,
stuck and impossible values, a drifting GPS clock.

A fault is ``<device>:<kind>[=<arg>]@<start>+<duration>`` on the command line, e.g.
``env1:crc_error@30s+10s`` or ``gps1:clock_drift=45@1m+2m``, or a ``[[faults]]`` table in a
scenario file (``device``, ``kind``, ``at``, ``duration``, optional ``arg``; ``at`` is an
offset like ``"30s"`` or, in a scenario, a time like ``"day1 14:30"``). Start and duration are
on the run's device clock: the scenario clock when a scenario drives the devices, else real
seconds from the start of the run.

Kinds (docs/simulators.md §2.3):

- byte level, once for every device, as a :class:`SerialLink` ``to_gateway`` filter:
  ``crc_error`` (one bit of every answer flipped), ``garbage`` (a line of seeded junk before
  every answer), ``truncated`` (every answer cut in half), ``slow`` (every answer held back
  ``arg`` seconds, default 1.0), ``timeout`` (nothing reaches the gateway);
  on a shared Modbus line only the faulty unit's answers are touched;
- ``unplug``: the gateway's path vanishes for the window and comes back (the whole line);
- value level, through the emulators' ``value_filter`` hooks: ``stuck`` (the values of the
  fault's start are repeated) and ``out_of_range`` (fields set beyond their plausible range;
  ``arg`` names one field, default all ranged fields);
- ``clock_drift``: the GPS's ``clock_drift`` is ``arg`` seconds (default 30) for the window.

Every fault is logged in the truth file when it ends (or when the run stops)::

    {"kind": "fault", "device": "env1", "fault": "crc_error", "arg": null,
     "start": <ms>, "end": <ms>, "source_start": <ms>, "source_end": <ms>}

``start``/``end`` are wall-clock times (the gateway's clock), ``source_*`` the device clock.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulators.devices.serial_link import SerialLink
from simulators.scenario.times import parse_daytime, parse_duration
from simulators.truth import TruthWriter

BYTE_KINDS = ("crc_error", "garbage", "truncated", "slow", "timeout")
VALUE_KINDS = ("stuck", "out_of_range")
KINDS = (*BYTE_KINDS, "unplug", *VALUE_KINDS, "clock_drift")
_SPEC = re.compile(r"^([A-Za-z0-9_./-]+):([a-z_]+)(?:=([^@]+))?@([^+]+)\+(.+)$")


@dataclass(frozen=True)
class Fault:
    device: str
    kind: str
    start: float  # seconds after the run's origin, device clock
    duration: float
    arg: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.duration <= 0:
            raise ValueError(f"fault {self.device}:{self.kind} needs a duration above 0")
        if self.kind in ("slow", "clock_drift") and self.arg is not None:
            float(self.arg)  # ValueError for a bad number

    @property
    def end(self) -> float:
        return self.start + self.duration


def parse_fault(text: str) -> Fault:
    """``"env1:crc_error@30s+10s"`` -> Fault; ValueError naming the problem."""
    m = _SPEC.match(text.strip())
    if not m:
        raise ValueError(
            f"{text!r} is not a fault like 'env1:crc_error@30s+10s' "
            "(<device>:<kind>[=<arg>]@<start>+<duration>)"
        )
    device, kind, arg, start, duration = m.groups()
    return Fault(device, kind, parse_duration(start), parse_duration(duration), arg)


def faults_from_table(
    rows: Iterable[Mapping[str, Any]], origin: float | None = None
) -> list[Fault]:
    """``[[faults]]`` rows; *origin*: the scenario start (for ``at = "day1 14:30"``)."""
    out = []
    for i, row in enumerate(rows):
        unknown = set(row) - {"device", "kind", "at", "duration", "arg"}
        if unknown:
            raise ValueError(f"faults[{i}]: unknown keys {sorted(unknown)}")
        try:
            at = str(row["at"])
            start = parse_daytime(at) if at.startswith("day") else parse_duration(row["at"])
            arg = None if row.get("arg") is None else str(row["arg"])
            out.append(
                Fault(str(row["device"]), row["kind"], start, parse_duration(row["duration"]), arg)
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"faults[{i}]: {exc}") from None
    return out


@dataclass
class Target:
    """An emulated device faults can be injected into."""

    device: str
    link: SerialLink | None = None
    unit: int | None = None  # Modbus unit on a shared line: byte faults on its answers only
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    sim: Any = None  # the emulator (clock_drift sets ``sim.clock_drift``)


def out_of_range(value_range: tuple[float, float]) -> float:
    """A value half the range's width above its top."""
    lo, hi = value_range
    return hi + 0.5 * (hi - lo)


class FaultInjector:
    """Schedules *faults* on *targets*, on the device clock *now* (origin: *origin*)."""

    def __init__(
        self,
        faults: Sequence[Fault],
        targets: Sequence[Target],
        *,
        truth: TruthWriter | None = None,
        now: Callable[[], float] = time.time,
        origin: float | None = None,
        seed: int = 0,
        tick: float = 0.02,
    ) -> None:
        self.targets = {t.device: t for t in targets}
        for f in faults:
            self._check(f)
        self.faults = list(faults)
        self.truth = truth
        self.now = now
        self.origin = now() if origin is None else origin
        self.seed = seed
        self.tick = tick
        self._active: dict[int, tuple[float, float]] = {}  # fault index -> (wall, source) start
        self._done: set[int] = set()
        self._stuck: dict[int, dict[str, float]] = {}
        self._drift: dict[int, float] = {}
        self._chunks = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for link in {id(t.link): t.link for t in targets if t.link is not None}.values():
            link.to_gateway = self._link_filter(link, link.to_gateway)

    def _check(self, f: Fault) -> None:
        target = self.targets.get(f.device)
        if target is None:
            raise ValueError(f"fault on {f.device!r}: no such device; known: {list(self.targets)}")
        if (f.kind in BYTE_KINDS or f.kind == "unplug") and target.link is None:
            raise ValueError(f"fault {f.device}:{f.kind}: the device has no serial link")
        if f.kind == "clock_drift" and not hasattr(target.sim, "clock_drift"):
            raise ValueError(f"fault {f.device}:clock_drift: only a GPS has a clock to drift")
        if f.kind in VALUE_KINDS and not hasattr(target.sim, "value_filter"):
            raise ValueError(f"fault {f.device}:{f.kind}: this emulator has no value hook")
        bad_field = not target.ranges or (f.arg is not None and f.arg not in target.ranges)
        if f.kind == "out_of_range" and bad_field:
            raise ValueError(f"fault {f.device}:out_of_range: fields {list(target.ranges)}")

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> FaultInjector:
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for i in list(self._active):
            self._end(i)

    def __enter__(self) -> FaultInjector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self.update()

    def update(self) -> None:
        """Start and end faults due at the device clock's present time."""
        t = self.now() - self.origin
        for i, f in enumerate(self.faults):
            if i in self._done:
                continue
            if i not in self._active and f.start <= t < f.end:
                self._begin(i)
            elif i in self._active and t >= f.end:
                self._end(i)

    def _begin(self, i: int) -> None:
        f = self.faults[i]
        target = self.targets[f.device]
        if f.kind == "unplug":
            target.link.unplug()
        elif f.kind == "clock_drift":
            self._drift[i] = target.sim.clock_drift
            target.sim.clock_drift = float(f.arg or 30.0)
        with self._lock:
            self._active[i] = (time.time(), self.now())

    def _end(self, i: int) -> None:
        f = self.faults[i]
        target = self.targets[f.device]
        with self._lock:
            wall, source = self._active.pop(i)
            self._done.add(i)
            self._stuck.pop(i, None)
        if f.kind == "unplug":
            target.link.replug()
        elif f.kind == "clock_drift":
            target.sim.clock_drift = self._drift.pop(i)
        if self.truth is not None:
            self.truth.write(
                "fault",
                f.device,
                fault=f.kind,
                arg=f.arg,
                start=round(wall * 1000),
                end=round(time.time() * 1000),
                source_start=round(source * 1000),
                source_end=round(self.now() * 1000),
            )

    def active(self, device: str) -> list[Fault]:
        with self._lock:
            return [self.faults[i] for i in self._active if self.faults[i].device == device]

    # -- value faults -----------------------------------------------------------------------
    def filter_values(self, device: str, values: dict[str, float]) -> dict[str, float]:
        """The emulators' ``value_filter`` hook: *values* as the active faults make them."""
        target = self.targets.get(device)
        with self._lock:
            active = [i for i in self._active if self.faults[i].device == device]
            for i in active:
                f = self.faults[i]
                if f.kind == "stuck":
                    values = dict(self._stuck.setdefault(i, dict(values)))
                elif f.kind == "out_of_range" and target is not None:
                    names = [f.arg] if f.arg else list(target.ranges)
                    values = {
                        k: out_of_range(target.ranges[k]) if k in names else v
                        for k, v in values.items()
                    }
        return values

    # -- byte faults ------------------------------------------------------------------------
    def _link_filter(
        self, link: SerialLink, previous: Callable[[bytes], bytes] | None
    ) -> Callable[[bytes], bytes]:
        on_link = [t for t in self.targets.values() if t.link is link]

        def flt(data: bytes) -> bytes:
            if previous is not None:
                data = previous(data)
            for t in on_link:
                if t.unit is not None and (not data or data[0] != t.unit):
                    continue
                active = sorted(self.active(t.device), key=lambda f: KINDS.index(f.kind))
                for f in active:
                    if f.kind in BYTE_KINDS:
                        data = self.corrupt(f, data)
            return data

        return flt

    def corrupt(self, f: Fault, data: bytes) -> bytes:
        """What byte fault *f* makes of one chunk on its way to the gateway (seeded)."""
        if not data:
            return data
        if f.kind == "timeout":
            return b""
        if f.kind == "slow":
            time.sleep(float(f.arg or 1.0))
            return data
        eol = b"\r\n" if data.endswith(b"\n") else b""
        if f.kind == "truncated":
            return data[: max(1, (len(data) - len(eol)) // 2)] + eol
        if f.kind == "crc_error":
            middle = len(data.rstrip(b"\r\n")) // 2
            return data[:middle] + bytes([data[middle] ^ 0x80]) + data[middle + 1 :]
        # garbage: a line of seeded junk (never CR, LF or '$') before the answer
        self._chunks += 1
        rng = random.Random(f"fault-garbage:{self.seed}:{f.device}:{self._chunks}")
        junk = bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randint(4, 12)))
        return junk + b"\r\n" + data
