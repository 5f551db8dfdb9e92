"""What "now" is for the indicators job (``--clock``), and how readings' times map to the
times of the windows.

- ``wall``: this machine's clock, the service in production.
- ``data``: the newest reading's time in the store, so that a store holding readings from
  the past (an import, a replay) gets its windows computed as its own time advances.
- ``scenario``: readings from a simulator scenario played faster than real time (the demo):
  a reading stamped *t* stands for the scenario time ``start + (t - origin) * speed``. The
  windows are the scenario's (an ISPU hour is a scenario hour, 15 s of real time at 240x),
  read through :class:`ScenarioStore`, and each point is stamped back in real time, at the
  real time its window started; readings from before *origin* (an earlier scenario) are not
  this scenario's and are not read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from store.base import StoreReader, StoreWriter
from telemetry.mapping import Point

#: The readings the indicators are computed from (indicators.compute.reads).
INPUTS = ("air_quality", "traffic", "traffic_flow", "vehicle", "water_level")


def newest_reading_ms(reader: StoreReader) -> int | None:
    """The time of the newest reading the job computes from; None for a store without any."""
    times = [p.time_ms for m in INPUTS for p in reader.newest(m)]
    return max(times) if times else None


@dataclass(frozen=True)
class ScenarioTime:
    """Real time <-> scenario time: the scenario's *start_ms* was played at *origin_ms*."""

    start_ms: int
    origin_ms: int
    speed: float

    def to_scenario(self, real_ms: int) -> int:
        return self.start_ms + round((real_ms - self.origin_ms) * self.speed)

    def to_real(self, scenario_ms: int) -> int:
        return self.origin_ms + round((scenario_ms - self.start_ms) / self.speed)

    def now_ms(self, clock: Callable[[], float] = time.time) -> int:
        return self.to_scenario(int(clock() * 1000))


class ScenarioStore:
    """The store seen in scenario time: :meth:`points` takes and returns scenario times,
    :meth:`write` stamps the points back in real time. Only what the job's passes use of
    :class:`StoreReader` and :class:`StoreWriter` (points, write, the checks), so it is no
    subclass of theirs: the rest of the store is the real time's."""

    def __init__(self, reader: StoreReader, writer: StoreWriter, scale: ScenarioTime) -> None:
        self.reader, self.writer, self.scale = reader, writer, scale

    def points(
        self,
        measurement: str,
        gateway: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Point]:
        s = self.scale
        lo = s.origin_ms  # never the readings of an earlier scenario
        if start_ms is not None:
            lo = max(lo, s.origin_ms + math.floor((start_ms - s.start_ms) / s.speed) - 1)
        hi = (
            None if end_ms is None else s.origin_ms + math.ceil((end_ms - s.start_ms) / s.speed) + 1
        )
        out = []
        for p in self.reader.points(measurement, gateway=gateway, start_ms=lo, end_ms=hi):
            t = s.to_scenario(p.time_ms)
            if (start_ms is None or t >= start_ms) and (end_ms is None or t < end_ms):
                out.append(replace(p, time_ms=t))
        return out

    def write(self, points: Sequence[Point]) -> None:
        self.writer.write([replace(p, time_ms=self.scale.to_real(p.time_ms)) for p in points])

    def check_read(self) -> None:
        self.reader.check_read()

    def check_write(self) -> None:
        self.writer.check_write()

    def ping(self) -> bool:
        return self.reader.ping()
