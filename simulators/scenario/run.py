"""Run a scenario on its clock: sample every site on a fixed grid, write ground truth, and
check the file's ``[[expect]]`` threshold crossings against what was produced.

Samples are taken at ``start + k * step`` of scenario time whatever the real clock does: the
runner waits until the clock reaches a sample's time, and when it is late (a busy machine) it
catches up instead of skipping. So the ground truth of a seed is the same bytes whether the
scenario runs at 1x, accelerated, or unpaced (``clock=None``, as fast as possible).

Truth lines (JSONL, :class:`simulators.truth.TruthWriter`)::

    {"kind":"scenario_start","device":"scenario","name":"...","seed":7,"start":<ms>,"step":300,...}
    {"kind":"scenario","device":"srl-pasar-01","time":<ms>,"values":{"water_level":-31.2,...}}
    {"kind":"scenario_vehicle","device":"srl-pasar-01","time":<ms>,"lane":1,"direction":"N",
     "vehicle_class":"SM","speed":41.3,"length":1.9}          (only with vehicles=True)
    {"kind":"scenario_end","device":"scenario","samples":577}
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simulators.scenario.config import Expect
from simulators.scenario.engine import Scenario, ScenarioClock
from simulators.scenario.levels import crossing
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

DECIMALS = 3


class ScenarioRunner:
    """Samples *scenario* every *step* scenario seconds from its start to *until*.

    *on_sample(t, {site: values})* is called for every sample (emulators or progress).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: ScenarioClock | None = None,
        truth: TruthWriter | None = None,
        step: float | None = None,
        until: float | None = None,
        vehicles: bool = False,
        on_sample: Callable[[float, dict[str, dict[str, float]]], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.truth = truth
        self.step = step or scenario.step
        self.until = scenario.end if until is None else until
        self.vehicles = vehicles
        self.on_sample = on_sample
        self.samples = 0
        self.last_time: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def times(self) -> Iterable[float]:
        n = math.floor((self.until - self.scenario.start) / self.step + 1e-9)
        return (self.scenario.start + k * self.step for k in range(n + 1))

    def run(self) -> int:
        """Sample until the end (or :meth:`stop`); returns the number of samples written."""
        sc = self.scenario
        self._write(
            "scenario_start",
            "scenario",
            name=sc.name,
            seed=sc.seed,
            start=round(sc.start * 1000),
            step=self.step,
            sites=list(sc.sites),
        )
        previous: float | None = None
        for t in self.times():
            if self.clock is not None and not self.clock.wait_until(t, self._stop):
                break
            if self._stop.is_set():
                break
            sample = {site: sc.values(site, t) for site in sc.sites}
            for site, values in sample.items():
                rounded = {k: round(v, DECIMALS) for k, v in values.items()}
                self._write("scenario", site, time=round(t * 1000), values=rounded)
                if self.vehicles and previous is not None:
                    for v in sc.vehicles(site, previous, t):
                        self._write(
                            "scenario_vehicle",
                            site,
                            time=round(v.time * 1000),
                            lane=v.lane,
                            direction=v.direction,
                            vehicle_class=v.vehicle_class,
                            speed=v.speed,
                            length=v.length,
                        )
            if self.on_sample is not None:
                self.on_sample(t, sample)
            previous = t
            self.samples += 1
            self.last_time = t
        self._write("scenario_end", "scenario", samples=self.samples)
        return self.samples

    def _write(self, kind: str, device: str, **data: Any) -> None:
        if self.truth is not None:
            self.truth.write(kind, device, **data)

    # -- in a thread -----------------------------------------------------------------------
    def start(self) -> ScenarioRunner:
        self._thread = threading.Thread(target=self._main, name="scenario", daemon=True)
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            self.run()
        except Exception:  # the devices go on; the failure is in the log
            log.exception("scenario %s stopped", self.scenario.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to finish; True when it has (or was never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


@dataclass(frozen=True)
class ExpectResult:
    expect: Expect
    level: str
    threshold: float
    expected: float  # scenario time
    actual: float | None

    @property
    def delta(self) -> float | None:
        return None if self.actual is None else self.actual - self.expected

    @property
    def ok(self) -> bool:
        return self.delta is not None and abs(self.delta) <= self.expect.tolerance


def series_from_truth(records: Iterable[dict]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(site, signal) -> [(scenario time s, value)] from ``scenario`` truth lines."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rec in records:
        if rec.get("kind") != "scenario":
            continue
        t = rec["time"] / 1000
        for signal, value in rec["values"].items():
            series.setdefault((rec["device"], signal), []).append((t, value))
    return series


def check_expectations(
    scenario: Scenario, series: dict[tuple[str, str], list[tuple[float, float]]]
) -> list[ExpectResult]:
    """Where each ``[[expect]]`` of the scenario's file actually happened in *series*."""
    results = []
    for ex in scenario.file.expect:
        level = scenario.level(ex.site, ex.signal, ex.crosses)
        found = crossing(series.get((ex.site, ex.signal), []), level, ex.direction)
        results.append(ExpectResult(ex, level.name, level.threshold, scenario.start + ex.at, found))
    return results


def sample_series(
    scenario: Scenario, step: float | None = None
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Unpaced run without truth: the series :func:`check_expectations` needs."""
    records: list[dict] = []

    def keep(t: float, sample: dict[str, dict[str, float]]) -> None:
        for site, values in sample.items():
            records.append({"kind": "scenario", "device": site, "time": t * 1000, "values": values})

    ScenarioRunner(scenario, step=step, on_sample=keep).run()
    return series_from_truth(records)
