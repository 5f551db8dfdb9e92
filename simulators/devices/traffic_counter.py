"""An emulated traffic counter: per-vehicle ASCII records (docs/protocol.md 5.1) on a pty.

Vehicles arrive at seeded exponential inter-arrival times (a Poisson stream of
``vehicles_per_minute`` per lane), in real time. The class mix is dominated by motorcycles, as
on Sarolangun roads (docs: ../shared/DOMAIN.md); speed and length are drawn per class. Odd
lanes run north, even lanes south; a share ``contraflow`` of vehicles rides against the lane's
direction (wrong-way motorcycles, overtaking), and a share ``side_by_side`` of motorcycles has a
second motorcycle next to it in the same lane, detected in the same millisecond. A given seed
always yields the same sequence of vehicles, see :func:`arrivals`. A vehicle's detection time
is the clock when its line is sent. After ``heartbeat_interval`` seconds without a vehicle a
heartbeat ``$HBT`` is sent.

Lines are written by the emulator's own :mod:`simulators.devices.wire.vehicle`. Every vehicle
sent is recorded as truth, with the exact line and the speed and length as written (all a
summary needs)::

    {"kind": "vehicle", "device": "cnt1", "time": <ms>, "lane": 1, "direction": "N",
     "speed": 45.2, "length": 1.8, "vehicle_class": "SM", "line": "$VEH,...*1B\\r\\n"}

Usage::

    with SerialLink(tmp / "ttyCNT") as link, TrafficCounterSim(link.device_path) as sim:
        ...  # the gateway reads link.path; sim.send_raw(b"junk\\r\\n") injects faults
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from simulators.devices.serial_device import SerialDeviceSim
from simulators.devices.wire import vehicle as wire
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

#: Class mix (share of vehicles), spot speed (km/h) and length (m) ranges per class.
CLASS_MIX: dict[str, float] = {"SM": 0.70, "KR": 0.20, "KS": 0.06, "BB": 0.02, "TB": 0.02}
SPEED_KMH: dict[str, tuple[float, float]] = {
    "SM": (35.0, 60.0),
    "KR": (40.0, 70.0),
    "KS": (30.0, 55.0),
    "BB": (30.0, 55.0),
    "TB": (25.0, 50.0),
}
LENGTH_M: dict[str, tuple[float, float]] = {
    "SM": (1.7, 2.1),
    "KR": (3.8, 5.2),
    "KS": (6.0, 8.5),
    "BB": (11.0, 12.5),
    "TB": (8.0, 12.0),
}


#: Default share of motorcycles with a second one beside them (same lane, same millisecond).
SIDE_BY_SIDE = 0.05
_OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}


class SourceClock(Protocol):
    """What the vehicle hook's clock offers (a
    :class:`simulators.scenario.engine.ScenarioClock`)."""

    def now(self) -> float: ...

    def real_time(self, t: float) -> float: ...


def direction_of(lane: int) -> str:
    """Odd lanes run north, even lanes south (a two-way road, one lane each way)."""
    return "N" if lane % 2 else "S"


@dataclass(frozen=True)
class Arrival:
    gap_s: float  # seconds since the previous vehicle (any lane)
    lane: int
    vehicle_class: str
    speed_kmh: float  # rounded to 0.1, as on the wire
    length_m: float  # rounded to 0.1, as on the wire
    contraflow: bool = False  # against the lane's direction
    same_instant: bool = False  # beside the previous vehicle: same lane, same detection time

    @property
    def direction(self) -> str:
        usual = direction_of(self.lane)
        return _OPPOSITE[usual] if self.contraflow else usual


def arrivals(
    seed: int,
    lanes: Sequence[int],
    vehicles_per_minute: float,
    side_by_side: float = SIDE_BY_SIDE,
    contraflow: float = 0.0,
) -> Iterator[Arrival]:
    """The endless, deterministic stream of vehicles of a seed (all lanes merged)."""
    rng = random.Random(f"traffic-counter:{seed}")
    rate = vehicles_per_minute * len(lanes) / 60.0  # vehicles per second, all lanes
    classes, weights = list(CLASS_MIX), list(CLASS_MIX.values())
    while True:
        gap = rng.expovariate(rate)
        lane = rng.choice(lanes)
        vehicle_class = rng.choices(classes, weights)[0]
        speed = round(rng.uniform(*SPEED_KMH[vehicle_class]), 1)
        length = round(rng.uniform(*LENGTH_M[vehicle_class]), 1)
        wrong_way = contraflow > 0 and rng.random() < contraflow
        yield Arrival(gap, lane, vehicle_class, speed, length, wrong_way)
        if vehicle_class == "SM" and side_by_side > 0 and rng.random() < side_by_side:
            speed = round(rng.uniform(*SPEED_KMH["SM"]), 1)
            length = round(rng.uniform(*LENGTH_M["SM"]), 1)
            yield Arrival(0.0, lane, "SM", speed, length, wrong_way, same_instant=True)


class TrafficCounterSim(SerialDeviceSim):
    def __init__(
        self,
        device_path: str,
        sensor_id: str = "cnt1",
        seed: int = 0,
        lanes: Sequence[int] = (1, 2),
        vehicles_per_minute: float = 30.0,
        heartbeat_interval: float = 10.0,
        truth: TruthWriter | None = None,
        clock: Callable[[], float] = time.time,
        side_by_side: float = SIDE_BY_SIDE,
        contraflow: float = 0.0,
        vehicles: Callable[[float, float], Sequence[Any]] | None = None,
        source_clock: SourceClock | None = None,
    ) -> None:
        """*vehicles(t0, t1)*: value hook giving the vehicles passing in [t0, t1) of
        *source_clock* (e.g. ``Scenario.vehicles`` bound to a site, with the scenario clock)
        instead of the seeded stream; each needs ``time, lane, direction, vehicle_class,
        speed, length``. A vehicle's record carries the real time its scenario time maps to
        (``source_clock.real_time``), so the gateway sees its own clock's time."""
        if (vehicles is None) != (source_clock is None):
            raise ValueError("vehicles and source_clock go together")
        if not lanes or any(not 1 <= lane <= 9 for lane in lanes):
            raise ValueError(f"lanes must be 1-9, got {lanes!r}")
        if vehicles_per_minute <= 0 or heartbeat_interval <= 0:
            raise ValueError("vehicles_per_minute and heartbeat_interval must be > 0")
        if not (0 <= side_by_side <= 1 and 0 <= contraflow <= 1):
            raise ValueError("side_by_side and contraflow are shares from 0 to 1")
        self.device_path = device_path
        self.sensor_id = sensor_id
        self.seed = seed
        self.lanes = tuple(lanes)
        self.vehicles_per_minute = vehicles_per_minute
        self.heartbeat_interval = heartbeat_interval
        self.truth = truth
        self.clock = clock
        self.side_by_side = side_by_side
        self.contraflow = contraflow
        self.vehicles = vehicles
        self.source_clock = source_clock
        self.sent = 0  # vehicle records sent
        self.heartbeats = 0
        self._last_vehicle_ms = 0
        self._init_device()

    def __repr__(self) -> str:
        return f"TrafficCounterSim({self.sensor_id!r}, {self.device_path!r})"

    def _run(self) -> None:
        try:
            if self.vehicles is not None:
                self._source_loop()
            else:
                self._loop()
        except OSError as exc:  # the pty went away under us: end quietly
            if not self._stop.is_set():
                log.warning("%r: write failed, stopping: %s", self, exc)

    def _loop(self) -> None:
        last_sent = due = time.monotonic()
        stream = arrivals(
            self.seed, self.lanes, self.vehicles_per_minute, self.side_by_side, self.contraflow
        )
        for arrival in stream:
            due += arrival.gap_s
            while True:  # wait for the vehicle, sending heartbeats while the road is empty
                wake = min(due, last_sent + self.heartbeat_interval)
                if self._stop.wait(max(0.0, wake - time.monotonic())):
                    return
                if time.monotonic() >= due:
                    break
                if time.monotonic() >= last_sent + self.heartbeat_interval:
                    self.send_raw(wire.heartbeat(self._now_ms()))
                    self.heartbeats += 1
                    last_sent = time.monotonic()
            self._send_vehicle(arrival)
            last_sent = time.monotonic()

    def _source_loop(self, tick: float = 0.05) -> None:
        """Send what the vehicle hook gives, tick by tick of the source clock."""
        assert self.vehicles is not None and self.source_clock is not None
        clock = self.source_clock
        last = clock.now()
        last_sent = time.monotonic()
        while not self._stop.wait(tick):
            now = clock.now()
            for v in self.vehicles(last, now):
                time_ms = max(self._last_vehicle_ms, round(clock.real_time(v.time) * 1000))
                self._send(time_ms, v.lane, v.direction, v.speed, v.length, v.vehicle_class)
                self._last_vehicle_ms = time_ms
                last_sent = time.monotonic()
                fields = (v.lane, v.direction, v.speed, v.length, v.vehicle_class)
                self._record(time_ms, *fields, {"source_time": round(v.time * 1000)})
            last = now
            if time.monotonic() >= last_sent + self.heartbeat_interval:
                self.send_raw(wire.heartbeat(self._now_ms()))
                self.heartbeats += 1
                last_sent = time.monotonic()

    def _send(self, time_ms, lane, direction, speed, length, vehicle_class) -> None:
        self._record_sent = wire.vehicle(time_ms, lane, direction, speed, length, vehicle_class)
        self.send_raw(self._record_sent.line)
        self.sent += 1

    def _record(self, time_ms, lane, direction, speed, length, vehicle_class, extra) -> None:
        if self.truth is not None:
            sent = self._record_sent
            self.truth.write(
                "vehicle",
                self.sensor_id,
                time=time_ms,
                lane=lane,
                direction=direction,
                speed=sent.speed,
                length=sent.length,
                vehicle_class=vehicle_class,
                line=sent.line.decode("ascii"),
                **extra,
            )

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _send_vehicle(self, arrival: Arrival) -> None:
        time_ms = self._last_vehicle_ms if arrival.same_instant else self._now_ms()
        self._last_vehicle_ms = time_ms
        fields = (arrival.lane, arrival.direction, arrival.speed_kmh, arrival.length_m)
        self._send(time_ms, *fields, arrival.vehicle_class)
        self._record(time_ms, *fields, arrival.vehicle_class, {})
