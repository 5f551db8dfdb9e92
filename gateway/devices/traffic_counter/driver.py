"""Traffic counter streaming per-vehicle ASCII records (docs/protocol.md 5.1).

Thin glue around the pure cores: read bytes with pyserial, cut them into lines
(:class:`~gateway.devices.framing.LineFramer`), parse them
(:func:`~gateway.devices.traffic_counter.protocol.parse_line`),
summarise them per interval (:class:`~gateway.devices.traffic_counter.aggregate.Aggregator`),
optionally forward
each vehicle (:class:`~gateway.devices.traffic_counter.aggregate.RecordForwarder`,
``forward_records``), and hand the readings to the sink.

Device states:

- ``ok``: the port is open (and the last line, if any, parsed).
- ``decode_error``: the last line was bad; counted per reason in :attr:`decode_errors`, logged
  without a traceback, skipped. The next good line sets ``ok``.
- ``timeout``: no bytes at all for ``heartbeat_timeout`` seconds.
- ``unplugged``: the port path is missing or the port failed (EIO after an unplug); the port
  is closed and reopened every ``reopen_interval`` seconds.
- ``error``: anything else (e.g. permission denied); also retried.

Intervals are cut on the counter's own clock (the records' times); between lines they are
closed by that clock carried forward with the monotonic clock
(:class:`~gateway.devices.traffic_counter.device_clock.DeviceClock`), never by the gateway's
wall clock, so a step of the gateway clock neither closes intervals early nor makes the
counter's records late.

Aggregation pauses while the data cannot be trusted: when the port fails or the device goes
silent (``timeout``), the open intervals are dropped and nothing is published for the outage;
the interval in progress when data is back is partial, so the first interval published is the
next complete one (as at start). Forwarded vehicle records are complete on their own and are
published whenever the port delivers them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal

import serial
from pydantic import Field, ValidationInfo, field_validator

from gateway.devices.base import (
    Clock,
    DeviceConfig,
    SerialPort,
    SerialSessionDriver,
    Sink,
    io_problem,
)
from gateway.devices.framing import LineFramer
from gateway.devices.traffic_counter.aggregate import Aggregator, RecordForwarder
from gateway.devices.traffic_counter.device_clock import DeviceClock
from gateway.devices.traffic_counter.protocol import (
    DIRECTIONS,
    MAX_LINE,
    VEHICLE_CLASSES,
    RecordError,
    VehicleRecord,
    parse_line,
)
from gateway.devices.traffic_counter.summary import (
    DEFAULT_DETECTION_ZONE_M,
    ROAD_TYPES,
    SummaryConfig,
    emp_factors,
)

#: Seconds between two calls of :meth:`Aggregator.tick` (the counter's clock, carried forward).
TICK_INTERVAL = 0.5
#: errno values of a failed open that mean "the device is not there".


Lane = Annotated[int, Field(ge=1, le=9)]
ClassName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,7}$")]
Direction = Literal[DIRECTIONS]  # type: ignore[valid-type]
RoadType = Literal[ROAD_TYPES]  # type: ignore[valid-type]
Emp = Annotated[float, Field(gt=0, le=10)]
Capacity = Annotated[float, Field(gt=0, le=50_000)]


class TrafficCounterConfig(DeviceConfig):
    driver: Literal["traffic_counter"]
    serial: SerialPort
    interval: int = Field(60, ge=1, le=3600, description="aggregation interval, seconds")
    lanes: list[Lane] = Field([1, 2], min_length=1, description="lanes reported every interval")
    grace: float = Field(2.0, ge=0, le=60, description="seconds to wait for late records")
    heartbeat_timeout: float = Field(
        30.0, gt=0, le=3600, description="seconds of silence before the device is 'timeout'"
    )
    classes: list[ClassName] = Field(
        default_factory=lambda: list(VEHICLE_CLASSES),
        min_length=1,
        description="vehicle classes the counter reports (others are decode errors)",
    )
    road_type: RoadType | None = Field(
        None, description="MKJI/PKJI road type; '2/2UD' makes the motorcycle emp 0.4"
    )
    emp: dict[ClassName, Emp] = Field(
        default_factory=dict,
        validate_default=True,
        description="passenger-car equivalent per class, overriding the defaults"
        " (SM 0.25, KR 1.0, KS/BB/TB 1.3)",
    )
    detection_zone: float = Field(
        DEFAULT_DETECTION_ZONE_M,
        ge=0,
        le=50,
        description="length of the detection zone along the lane, m (for occupancy)",
    )
    directions: dict[Lane, Direction] = Field(
        default_factory=dict,
        description="direction of travel per lane, e.g. {1 = 'N', 2 = 'S'}; zero-traffic"
        " intervals of a lane without one start after its first vehicle",
    )
    capacity: dict[Lane, Capacity] = Field(
        default_factory=dict,
        description="capacity per lane, pcu/h (smp/jam): adds degree_of_saturation",
    )
    segment_capacity: Capacity | None = Field(
        None,
        description="capacity of the road segment (all lanes, both directions), pcu/h:"
        " adds a traffic_segment reading per interval",
    )
    forward_records: bool = Field(False, description="also publish every vehicle as a reading")

    @field_validator("lanes", "classes")
    @classmethod
    def _unique(cls, value: list) -> list:
        repeated = sorted({str(v) for v in value if value.count(v) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return value

    @field_validator("emp")
    @classmethod
    def _emp_per_class(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        classes = info.data.get("classes")
        if classes is None:  # classes itself is invalid, reported there
            return value
        unknown = sorted(set(value) - set(classes))
        if unknown:
            raise ValueError(f"class(es) {', '.join(unknown)} not in classes {classes}")
        emp_factors(classes, value)  # ValueError naming a class without a factor
        return value

    @field_validator("directions", "capacity")
    @classmethod
    def _configured_lanes(cls, value: dict[int, object], info: ValidationInfo) -> dict:
        lanes = info.data.get("lanes")
        unknown = sorted(set(value) - set(lanes or value))
        if unknown:
            raise ValueError(f"lane(s) {unknown} not in lanes {lanes}")
        return value

    def summary(self) -> SummaryConfig:
        """The settings of the interval summaries."""
        return SummaryConfig(
            classes=tuple(self.classes),
            emp=emp_factors(self.classes, self.emp, self.road_type),
            detection_zone_m=self.detection_zone,
            capacity=dict(self.capacity),
            segment_capacity=self.segment_capacity,
        )


class TrafficCounterDriver(SerialSessionDriver):
    config: TrafficCounterConfig
    #: Seconds of a clock no step of the wall clock moves; a seam for tests.
    monotonic: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, config: TrafficCounterConfig, sink: Sink, clock: Clock = time.time) -> None:
        super().__init__(config, sink, clock)
        self.aggregator = Aggregator(
            config.id,
            config.interval,
            config.lanes,
            config.grace,
            config.summary(),
            config.directions,
        )
        self.device_clock = DeviceClock()
        self.forwarder = RecordForwarder(config.id) if config.forward_records else None
        learned = [lane for lane in config.lanes if lane not in config.directions]
        if learned:
            self.log.info(
                "device %s: lane(s) %s have no direction in 'directions': each takes the"
                " direction of its first vehicle, and its zero-traffic intervals start then",
                config.id,
                learned,
            )
        self.records = 0  # vehicle records parsed
        self.heartbeats = 0
        self.decode_errors: dict[str, int] = {}  # RecordError.reason -> count
        self._live = False  # aggregating (ticks on): port open and device not silent

    # -- loop -------------------------------------------------------------------------------
    read_slice = TICK_INTERVAL / 2  # short reads so that ticks and stop are handled on time

    def opened(self, port: serial.SerialBase) -> None:
        self.set_state("ok")
        self.aggregator.reset()
        self.device_clock.reset()
        self._live = True

    def after_session(self) -> None:
        self._pause()

    def session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        framer = LineFramer(MAX_LINE)
        last_bytes = next_tick = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    data = port.read(port.in_waiting or 1)
                except OSError as exc:  # serial.SerialException included
                    self._pause()
                    port_name = self.config.serial.port
                    self.set_state("unplugged", f"{port_name}: {exc}", io_problem(port_name))
                    return
                now = time.monotonic()
                if data:
                    last_bytes = now
                    for line in framer.feed(data):
                        self.handle_line(line)
                elif now - last_bytes >= self.config.heartbeat_timeout and self.state != "timeout":
                    self._pause()
                    seconds = f"{self.config.heartbeat_timeout:g}"
                    self.set_state(
                        "timeout", f"no data for {seconds} s", ("no_data", {"seconds": seconds})
                    )
                if now >= next_tick:
                    next_tick = now + TICK_INTERVAL
                    self.tick()
        finally:
            with contextlib.suppress(OSError):  # closing a port that is gone may fail too
                port.close()

    # -- per line ---------------------------------------------------------------------------
    def handle_line(self, line: bytes) -> None:
        """One framed line: parse, summarise, forward, publish (no serial I/O; the monotonic
        clock only, to follow the counter's clock)."""
        try:
            event = parse_line(line, classes=self.config.classes)
        except RecordError as exc:
            self.decode_errors[exc.reason] = self.decode_errors.get(exc.reason, 0) + 1
            self.log.debug("device %s: skipped line: %s", self.config.id, exc)
            self.set_state("decode_error", str(exc), ("bad_line", {"reason": exc.reason}))
            return
        if self.state != "ok":
            self.set_state("ok")
        self._live = True
        self._follow_clock(event.time_ms)
        if isinstance(event, VehicleRecord):
            self.records += 1
            unknown = self.aggregator.stats.unknown_lanes.get(event.lane, 0)
            readings = self.aggregator.feed(event)
            if self.forwarder is not None and event.lane in self.config.lanes:
                readings.append(self.forwarder.feed(event))
            self.deliver(readings)
            if unknown == 0 and self.aggregator.stats.unknown_lanes.get(event.lane, 0):
                self.log.warning(
                    "device %s: lane %d is not configured (lanes %s); its records are ignored",
                    self.config.id,
                    event.lane,
                    self.config.lanes,
                )
        else:
            self.heartbeats += 1
            self.deliver(self.aggregator.feed(event))

    # -- aggregation ------------------------------------------------------------------------
    def tick(self) -> None:
        """Close the intervals that the counter's clock, carried forward from its last line by
        the monotonic clock, has passed (the gateway's wall clock plays no part)."""
        if self._live:
            now = self.device_clock.now(self._monotonic_ms())
            if now is not None:
                self.deliver(self.aggregator.tick(now))

    def _follow_clock(self, time_ms: int) -> None:
        """Re-anchor the counter's clock at this line. A line well behind it is a step back of
        the counter's own clock (docs/protocol.md 5.1): logged and counted. One well ahead is
        not acted on: a backlog the counter sends at once (after a reopen) looks the same."""
        step = self.device_clock.seen(time_ms, self._monotonic_ms())
        if step < 0:
            self.log.warning(
                "device %s: the counter's clock stepped back %.1f s; records of intervals"
                " already published are counted as late",
                self.config.id,
                -step / 1000,
            )
            self.aggregator.clock_stepped_back()

    def _monotonic_ms(self) -> int:
        return int(self.monotonic() * 1000)

    def _pause(self) -> None:
        """Publish what the clock has closed, then stop aggregating until data is back."""
        if self._live:
            self.tick()
            self.aggregator.reset()
            self.device_clock.reset()
            self._live = False
