"""Traffic counter streaming per-vehicle ASCII records (docs/protocol.md 5.1).

Thin glue around the pure core in :mod:`gateway.traffic`: read bytes with pyserial, cut them
into lines (:class:`LineFramer`), parse them (:func:`parse_line`), aggregate them per lane and
interval (:class:`Aggregator`) and hand the closed intervals to the sink.

Device states:

- ``ok``: the port is open (and the last line, if any, parsed).
- ``decode_error``: the last line was bad; counted per reason in :attr:`decode_errors`, logged
  without a traceback, skipped. The next good line sets ``ok``.
- ``timeout``: no bytes at all for ``heartbeat_timeout`` seconds.
- ``unplugged``: the port path is missing or the port failed (EIO after an unplug); the port
  is closed and reopened every ``reopen_interval`` seconds.
- ``error``: anything else (e.g. permission denied); also retried.

Aggregation pauses while the data cannot be trusted: when the port fails or the device goes
silent (``timeout``), the open intervals are dropped and nothing is published for the outage;
the interval in progress when data is back is partial, so the first interval published is the
next complete one (as at start).
"""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from typing import Literal

import serial
from pydantic import Field

from gateway.drivers.base import Clock, DeviceConfig, Driver, SerialPort, Sink
from gateway.traffic import Aggregator, LineFramer, RecordError, VehicleRecord, parse_line
from telemetry.models import Reading

#: Seconds between two calls of :meth:`Aggregator.tick` with the gateway clock.
TICK_INTERVAL = 0.5
#: errno values of a failed open that mean "the device is not there".
_GONE = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO}


class TrafficCounterConfig(DeviceConfig):
    driver: Literal["traffic_counter"]
    serial: SerialPort
    interval: int = Field(60, ge=1, le=3600, description="aggregation interval, seconds")
    lanes: list[int] = Field([1, 2], min_length=1, description="lanes reported every interval")
    grace: float = Field(2.0, ge=0, le=60, description="seconds to wait for late records")
    heartbeat_timeout: float = Field(
        30.0, gt=0, le=3600, description="seconds of silence before the device is 'timeout'"
    )


class TrafficCounterDriver(Driver):
    config: TrafficCounterConfig

    def __init__(self, config: TrafficCounterConfig, sink: Sink, clock: Clock = time.time) -> None:
        super().__init__(config, sink, clock)
        self.aggregator = Aggregator(config.id, config.interval, config.lanes, config.grace)
        self.records = 0  # vehicle records parsed
        self.heartbeats = 0
        self.decode_errors: dict[str, int] = {}  # RecordError.reason -> count
        self._live = False  # aggregating (ticks on): port open and device not silent

    # -- loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                port = self._open()
                if port is not None:
                    self._session(port, stop)
            except Exception as exc:  # a bug, not a device fault: keep the gateway alive
                self.log.exception("device %s: unexpected error", self.config.id)
                self.set_state("error", f"{type(exc).__name__}: {exc}")
            self._pause()
            if not stop.is_set():
                stop.wait(self.config.reopen_interval)

    def _open(self) -> serial.SerialBase | None:
        cfg = self.config.serial
        try:
            port = serial.serial_for_url(
                cfg.port,
                baudrate=cfg.baudrate,
                bytesize=cfg.bytesize,
                parity=cfg.parity,
                stopbits=cfg.stopbits,
                # Short reads so that ticks and stop are handled on time; never longer than
                # the configured read timeout.
                timeout=min(cfg.timeout, TICK_INTERVAL / 2),
            )
        except (OSError, ValueError) as exc:
            gone = getattr(exc, "errno", None) in _GONE
            self.set_state("unplugged" if gone else "error", f"cannot open {cfg.port}: {exc}")
            return None
        self.set_state("ok")
        self.aggregator.reset()
        self._live = True
        return port

    def _session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        framer = LineFramer()
        last_bytes = next_tick = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    data = port.read(port.in_waiting or 1)
                except OSError as exc:  # serial.SerialException included
                    self._pause()
                    self.set_state("unplugged", f"{self.config.serial.port}: {exc}")
                    return
                now = time.monotonic()
                if data:
                    last_bytes = now
                    for line in framer.feed(data):
                        self._line(line)
                elif now - last_bytes >= self.config.heartbeat_timeout and self.state != "timeout":
                    self._pause()
                    self.set_state("timeout", f"no data for {self.config.heartbeat_timeout:g} s")
                if now >= next_tick:
                    next_tick = now + TICK_INTERVAL
                    self._tick()
        finally:
            with contextlib.suppress(OSError):  # closing a port that is gone may fail too
                port.close()

    # -- per line ---------------------------------------------------------------------------
    def _line(self, line: bytes) -> None:
        try:
            event = parse_line(line)
        except RecordError as exc:
            self.decode_errors[exc.reason] = self.decode_errors.get(exc.reason, 0) + 1
            self.log.debug("device %s: skipped line: %s", self.config.id, exc)
            self.set_state("decode_error", str(exc))
            return
        if self.state != "ok":
            self.set_state("ok")
        self._live = True
        if isinstance(event, VehicleRecord):
            self.records += 1
            unknown = self.aggregator.unknown_lanes.get(event.lane, 0)
            self._publish(self.aggregator.feed(event))
            if unknown == 0 and self.aggregator.unknown_lanes.get(event.lane, 0):
                self.log.warning(
                    "device %s: lane %d is not configured (lanes %s); its records are ignored",
                    self.config.id,
                    event.lane,
                    self.config.lanes,
                )
        else:
            self.heartbeats += 1
            self._publish(self.aggregator.feed(event))

    # -- aggregation ------------------------------------------------------------------------
    def _tick(self) -> None:
        if self._live:
            self._publish(self.aggregator.tick(int(self.clock() * 1000)))

    def _pause(self) -> None:
        """Publish what the clock has closed, then stop aggregating until data is back."""
        if self._live:
            self._tick()
            self.aggregator.reset()
            self._live = False

    def _publish(self, readings: list[Reading]) -> None:
        if not readings:
            return
        try:
            self.sink(readings)
        except Exception:
            self.log.exception(
                "device %s: sink failed, %d readings lost", self.config.id, len(readings)
            )
