"""The gateway's own GPS module: NMEA 0183 RMC and GGA (docs/protocol.md 5.4).

Thin glue around :mod:`gateway.devices.nmea_gps.protocol`: read bytes with pyserial, cut them into
lines (:class:`gateway.devices.framing.LineFramer`), parse them, and keep
:attr:`Driver.info` current for the gateway status:

- ``fix`` (bool), ``satellites`` (from GGA), ``position`` = ``{"latitude", "longitude",
  "altitude"}`` (degrees, metres above mean sea level; set on a valid fix and kept while the
  fix is lost, the gateway does not move);
- ``clock_offset``: gateway clock (``self.clock()``) minus GPS UTC, in seconds; negative when
  the gateway clock is behind. Each valid RMC gives a sample: the gateway clock when the line
  was read, minus the line's transmission time at the configured baud rate, minus
  ``output_delay`` (the module's delay from its fix epoch to the first byte of RMC), minus the
  RMC time. The estimate is the smallest of the last 8 samples, as delays only ever add to
  it; it is reported once 3 samples are in. Accuracy: the module's unmodelled output delay
  (typically 0.05-0.5 s when ``output_delay`` is left at 0) plus USB-serial latency (1-16 ms),
  so about half a second without calibration: good for catching a wrong system clock
  (warning above ``clock_warning``, default 2 s), not for time keeping (use NTP or gpsd+chrony
  with PPS for that). A GPS date off by whole 1024-week rollovers (old modules) is reported
  as ``gps_week_rollover`` instead of an offset.

Device states: ``ok`` for any good sentence (no fix is still ``ok``, with ``fix = false``);
``decode_error`` for a refused line; ``timeout`` after ``silence_timeout`` without bytes;
``unplugged`` when the port is gone (reopened every ``reopen_interval``); ``error`` otherwise.

With ``position_interval`` set (default: off), a ``gateway_position`` reading (latitude,
longitude, altitude, satellites, clock_offset) is published every that many seconds while
there is a fix, aligned to multiples of the interval on the gateway clock.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

import serial
from pydantic import Field

from gateway.devices.base import Clock, DeviceConfig, SerialPort, SerialSessionDriver, Sink
from gateway.devices.framing import LineFramer
from gateway.devices.nmea_gps.protocol import (
    MAX_LINE,
    GpsTracker,
    NmeaError,
    OffsetEstimator,
    Other,
    Rmc,
    parse_sentence,
    week_rollover_suspected,
)

READ_SLICE = 0.2
#: Samples needed before the clock offset is reported and judged.
MIN_OFFSET_SAMPLES = 3
POSITION_MEASUREMENT = "gateway_position"


class NmeaGpsConfig(DeviceConfig):
    driver: Literal["nmea_gps"]
    serial: SerialPort
    silence_timeout: float = Field(
        5.0, gt=0, le=3600, description="seconds without bytes before the device is 'timeout'"
    )
    clock_warning: float = Field(
        2.0, gt=0, le=86400, description="warn when |gateway clock - GPS time| exceeds this, s"
    )
    output_delay: float = Field(
        0.0, ge=0, le=1.0, description="module delay from fix epoch to the first byte of RMC, s"
    )
    position_interval: float | None = Field(
        None, ge=1, le=86400, description="seconds between gateway_position readings; off if unset"
    )


class NmeaGpsDriver(SerialSessionDriver):
    config: NmeaGpsConfig

    def __init__(self, config: NmeaGpsConfig, sink: Sink, clock: Clock = time.time) -> None:
        super().__init__(config, sink, clock)
        self.tracker = GpsTracker()
        self.offsets = OffsetEstimator()
        self.offset_samples = 0
        self.lines = 0  # lines handled, good or bad
        self.sentences = 0  # RMC and GGA parsed
        self.ignored = 0  # other good sentences (GSV, GSA, VTG, ...)
        self.decode_errors: dict[str, int] = {}  # NmeaError.reason -> count
        self._clock_warned = False
        self._rollover_warned = False
        port = config.serial
        bits = 1 + port.bytesize + (port.parity != "N") + port.stopbits
        self._seconds_per_byte = bits / port.baudrate

    # -- session ----------------------------------------------------------------------------
    read_slice = READ_SLICE

    def session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        interval = self.config.position_interval
        next_position = self._next_tick(interval) if interval else None

        def position_timer() -> None:
            nonlocal next_position
            if next_position is not None and self.clock() >= next_position:
                next_position = self._next_tick(interval)
                self._publish_position()

        self.read_lines(
            port,
            stop,
            LineFramer(MAX_LINE),
            self._line,
            self.config.silence_timeout,
            position_timer if interval else None,
        )

    def _next_tick(self, interval: float) -> float:
        now = self.clock()
        return now - now % interval + interval

    # -- per line ---------------------------------------------------------------------------
    def _line(self, line: bytes, received: float) -> None:
        try:
            self._handle(line, received)
        finally:
            self.lines += 1  # counted once state and info are current (tests wait on it)

    def _handle(self, line: bytes, received: float) -> None:
        try:
            event = parse_sentence(line)
        except NmeaError as exc:
            self.log.debug("device %s: skipped line: %s", self.config.id, exc)
            self.set_state("decode_error", str(exc), ("bad_line", {"reason": exc.reason}))
            self.decode_errors[exc.reason] = self.decode_errors.get(exc.reason, 0) + 1
            return
        if self.state != "ok":
            self.set_state("ok")
        if isinstance(event, Other):
            self.ignored += 1
            return
        self.sentences += 1
        self.tracker.feed(event)
        info = {**self.info, **self.tracker.info()}  # a new dict: read by another thread
        if isinstance(event, Rmc) and event.valid and event.time_ms is not None:
            self._clock_sample(info, len(line), received, event.time_ms)
        self.info = info

    def _clock_sample(self, info: dict, length: int, received: float, gps_ms: int) -> None:
        transmit = (length + 2) * self._seconds_per_byte  # the line and its \r\n
        sample = received - transmit - self.config.output_delay - gps_ms / 1000
        offset = self.offsets.add(sample)
        self.offset_samples += 1
        if self.offset_samples < MIN_OFFSET_SAMPLES:
            return
        if week_rollover_suspected(offset):
            info.pop("clock_offset", None)
            info["gps_week_rollover"] = True
            if not self._rollover_warned:
                self._rollover_warned = True
                self.log.warning(
                    "device %s: GPS date is %.1f days off, a whole number of 1024-week "
                    "rollovers: the GPS module's firmware is too old; its time is not used",
                    self.config.id,
                    offset / 86400,
                )
            return
        info.pop("gps_week_rollover", None)
        info["clock_offset"] = round(offset, 3)
        off = abs(offset) > self.config.clock_warning
        if off and not self._clock_warned:
            self.log.warning(
                "device %s: gateway clock is %+.1f s off GPS time (gateway minus GPS; limit "
                "%g s): check NTP or the real-time clock",
                self.config.id,
                offset,
                self.config.clock_warning,
            )
        elif not off and self._clock_warned:
            self.log.info(
                "device %s: gateway clock agrees with GPS time again (%+.3f s)",
                self.config.id,
                offset,
            )
        self._clock_warned = off

    # -- gateway_position readings ----------------------------------------------------------
    def _publish_position(self) -> None:
        position = self.tracker.position
        if not self.tracker.fix or position is None:
            return
        fields: dict[str, int | float] = {
            name: value for name, value in position.items() if value is not None
        }
        if self.tracker.satellites is not None:
            fields["satellites"] = self.tracker.satellites
        if "clock_offset" in self.info:
            fields["clock_offset"] = self.info["clock_offset"]
        self.emit(POSITION_MEASUREMENT, self.clock(), fields)
