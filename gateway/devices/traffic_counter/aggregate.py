"""Edge aggregation of vehicle records (docs/protocol.md 5.1). Pure: no I/O, no clock.

- :class:`Aggregator`: events -> interval readings (``traffic_flow``, ``traffic``,
  ``traffic_segment``; the statistics are in :mod:`gateway.devices.traffic_counter.summary`).
- :class:`RecordForwarder`: vehicle records -> one ``vehicle`` reading each, with a point
  identity that is unique even for two vehicles detected in the same millisecond.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.devices.traffic_counter.protocol import Event, VehicleRecord
from gateway.devices.traffic_counter.summary import Pair, SummaryConfig, interval_readings
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, Reading

#: After a jump of the device clock by more than this many intervals,
#: the empty intervals of the gap are skipped instead of published as zero counts.
MAX_CATCH_UP_INTERVALS = 1440


@dataclass
class AggregatorCounters:
    """Records seen but not summarised, and other events worth a look (all cumulative)."""

    counted: int = 0  # records summarised in an interval
    unknown_lanes: dict[int, int] = field(default_factory=dict)  # lane not configured
    unknown_classes: dict[str, int] = field(default_factory=dict)  # class not configured
    before_start: int = 0  # older than the first complete interval
    late: int = 0  # for an interval already closed
    discarded: int = 0  # records of open intervals dropped by reset()
    out_of_range: int = 0  # events and ticks outside 2000-2099
    skipped_intervals: int = 0  # empty intervals skipped after a clock jump
    contraflow: int = 0  # records against their lane's direction of travel
    clock_steps_back: int = 0  # steps back of the device clock: re-lived times are ``late``


class Aggregator:
    """Interval summaries over intervals aligned to multiples of *interval_s* since the epoch.

    Time comes only from the events (device clock) and :meth:`tick` (the device clock as the
    driver follows it between lines: :mod:`gateway.devices.traffic_counter.device_clock`, never
    the gateway's wall clock). Interval ``[start, end)`` closes when an event with
    ``time >= end + grace`` arrives or ``tick(now)`` has ``now >= end + grace``; closing it
    returns its readings (:func:`gateway.devices.traffic_counter.summary.interval_readings`),
    time = start.

    Zero traffic is data: every configured lane gets a ``traffic_flow`` reading in every
    interval (``count`` 0 included) for its direction of travel, which is *directions[lane]*
    when configured, else the direction of the first record seen in the lane (learned once,
    kept across :meth:`reset`; until then the lane has no zero readings). Vehicles against
    the lane's direction (wrong-way riders, overtaking on an undivided road) are summarised
    under their own direction, in the intervals where there are any (``contraflow``).

    The interval in progress when the aggregator first sees a time is partial and never
    published. Records are counted in :attr:`stats`, not summarised, when they are: for a
    lane or class not configured, older than the first complete interval, for an interval
    already closed. Events and ticks with a time outside the range a reading accepts
    (2000-2099) are ignored. :meth:`reset` forgets the time (after an outage); counters are
    kept.
    """

    def __init__(
        self,
        sensor_id: str,
        interval_s: int,
        lanes: Iterable[int],
        grace_s: float,
        summary: SummaryConfig | None = None,
        directions: Mapping[int, str] | None = None,
    ) -> None:
        if interval_s <= 0 or grace_s < 0:
            raise ValueError("interval must be > 0 and grace >= 0")
        self.sensor_id = sensor_id
        self.interval_s = interval_s
        self.interval_ms = round(interval_s * 1000)
        self.grace_ms = round(grace_s * 1000)
        self.lanes = tuple(sorted(set(lanes)))
        self.summary = summary or SummaryConfig()
        unknown = sorted(set(directions or {}) - set(self.lanes))
        if unknown:
            raise ValueError(f"directions given for lanes {unknown} that are not configured")
        #: lane -> its direction of travel (configured, or learned from the first record)
        self.directions: dict[int, str] = dict(directions or {})
        self.stats = AggregatorCounters()
        self._start: int | None = None  # start of the first interval that will be published
        self._next = 0  # start of the oldest interval not yet closed (valid once _start is set)
        self._open: dict[int, list[VehicleRecord]] = {}  # interval start -> records

    def feed(self, event: Event) -> list[Reading]:
        """Take one event; return the readings of the intervals it closed."""
        if not self._in_range(event.time_ms):
            self.stats.out_of_range += 1
            return []
        readings = self._advance(event.time_ms)
        if isinstance(event, VehicleRecord):
            self._count(event)
        return readings

    def tick(self, now_ms: int) -> list[Reading]:
        """The device clock is at *now_ms* (by the driver's estimate between lines); return the
        readings of the intervals it closed."""
        if not self._in_range(now_ms):
            self.stats.out_of_range += 1
            return []
        return self._advance(now_ms)

    def clock_stepped_back(self) -> None:
        """The device clock stepped back (the driver saw a line well behind its estimate).
        Counted only: records of intervals already closed are ``late``, since publishing those
        intervals again would overwrite their points."""
        self.stats.clock_steps_back += 1

    def reset(self) -> None:
        """Forget time and open intervals: the next time seen starts a new partial interval."""
        self.stats.discarded += sum(len(records) for records in self._open.values())
        self._open.clear()
        self._start = None

    def _in_range(self, time_ms: int) -> bool:
        return MIN_TIME_MS <= time_ms < MAX_TIME_MS - self.interval_ms

    def _count(self, record: VehicleRecord) -> None:
        assert self._start is not None  # set by _advance
        stats = self.stats
        if record.lane not in self.lanes:
            stats.unknown_lanes[record.lane] = stats.unknown_lanes.get(record.lane, 0) + 1
            return
        if record.vehicle_class not in self.summary.classes:
            cls = record.vehicle_class
            stats.unknown_classes[cls] = stats.unknown_classes.get(cls, 0) + 1
            return
        if self.directions.setdefault(record.lane, record.direction) != record.direction:
            stats.contraflow += 1
        if record.time_ms < self._start:
            stats.before_start += 1
        elif record.time_ms < self._next:
            stats.late += 1
        else:
            start = record.time_ms - record.time_ms % self.interval_ms
            self._open.setdefault(start, []).append(record)
            stats.counted += 1

    def _advance(self, time_ms: int) -> list[Reading]:
        step = self.interval_ms
        if self._start is None:
            self._start = self._next = time_ms - time_ms % step + step
            return []
        close_before = (time_ms - self.grace_ms) // step * step
        if close_before <= self._next:
            return []
        gap = (close_before - self._next) // step
        if gap <= MAX_CATCH_UP_INTERVALS:
            starts: Iterable[int] = range(self._next, close_before, step)
        else:
            starts = sorted(s for s in self._open if s < close_before)
            self.stats.skipped_intervals += gap - len(starts)
        self._next = close_before
        return [reading for start in starts for reading in self._close(start)]

    def _close(self, start: int) -> list[Reading]:
        dense: list[Pair] = [(lane, self.directions[lane]) for lane in self.directions]
        return interval_readings(
            self.sensor_id,
            start,
            self.interval_s,
            self._open.pop(start, []),
            dense,
            self.summary,
        )


class RecordForwarder:
    """Each vehicle record as a ``vehicle`` reading (tags lane, direction, vehicle_class;
    fields ``speed`` km/h and ``length`` m; time = detection time).

    Two vehicles with the same lane, direction, class and millisecond (two motorcycles side
    by side in one lane) would be one InfluxDB point, the second overwriting the first. The
    later one is therefore moved 1 ms later, repeatedly until its time is free in that series
    (counted in :attr:`shifted`), so both are stored and a re-sent reading still lands on its
    own point. Times used are remembered for *window_s* behind the newest time of the series.
    """

    def __init__(self, sensor_id: str, window_s: float = 3600.0) -> None:
        self.sensor_id = sensor_id
        self.window_ms = round(window_s * 1000)
        self.shifted = 0
        self._series: dict[tuple[int, str, str], _UsedTimes] = {}

    def feed(self, record: VehicleRecord) -> Reading:
        key = (record.lane, record.direction, record.vehicle_class)
        series = self._series.setdefault(key, _UsedTimes())
        time_ms = series.claim(record.time_ms, self.window_ms)
        if time_ms != record.time_ms:
            self.shifted += 1
        return Reading(
            sensor=self.sensor_id,
            measurement="vehicle",
            time=time_ms,
            fields={"speed": record.speed_kmh, "length": record.length_m},
            tags={
                "lane": str(record.lane),
                "direction": record.direction,
                "vehicle_class": record.vehicle_class,
            },
        )


@dataclass
class _UsedTimes:
    """The times already given out in one series, for the last *window_ms*."""

    used: set[int] = field(default_factory=set)
    order: deque[int] = field(default_factory=deque)
    newest: int = 0

    def claim(self, time_ms: int, window_ms: int) -> int:
        while time_ms in self.used:
            time_ms += 1
        self.used.add(time_ms)
        self.order.append(time_ms)
        self.newest = max(self.newest, time_ms)
        while self.order and self.order[0] < self.newest - window_ms:
            self.used.discard(self.order.popleft())
        return time_ms
