"""Weather station speaking Vaisala WXT5xx-style ASCII sentences (docs/protocol.md 5.3).

Thin glue around the pure core in :mod:`gateway.devices.weather_ascii.protocol`: open the port with
pyserial, poll
the station (``mode = "poll"``: send ``0R0`` every ``poll_interval``, aligned to multiples of
it on the gateway clock) or listen to it (``mode = "stream"``: the station sends on its own),
cut the bytes into lines (:class:`gateway.devices.framing.LineFramer`), decode them
(:class:`WeatherDecoder`) and hand one ``weather`` reading per sentence to the sink. The
reading's time is the gateway clock when the sentence arrived.

Device states:

- ``ok``: the last sentence decoded and every published key had a usable value (keys the
  station marks invalid with ``#`` are skipped and listed in ``info["missing"]``, still ok).
- ``decode_error``: the last line was refused (garbage, cut off, wrong CRC, another station's
  address; counted per reason in :attr:`decode_errors`), or a value had an unknown unit letter
  or was implausible (that field is skipped, the others are published).
- ``timeout``: poll mode: no answer within ``answer_timeout``; stream mode: no bytes for
  ``stream_timeout`` seconds.
- ``unplugged``: the port path is missing or the port failed (EIO after an unplug); the port
  is closed and reopened every ``reopen_interval`` seconds.
- ``error``: anything else (e.g. permission denied, gateway clock unset); also retried.

The rain accumulator's last value survives an outage, so the first sentence after it carries
the rain that fell meanwhile (unless the station was reset, see :class:`RainCounter`).
"""

from __future__ import annotations

import termios
import threading
import time
from typing import Literal

import serial
from pydantic import Field

from gateway.devices.base import (
    Clock,
    DeviceConfig,
    SerialPort,
    SerialSessionDriver,
    Sink,
    io_problem,
)
from gateway.devices.framing import LineFramer
from gateway.devices.weather_ascii.protocol import (
    MAX_LINE,
    MEASUREMENT,
    WeatherDecoder,
    WeatherError,
    format_query,
)

#: Longest single read wait, so that stop, deadlines and silence are noticed on time.
READ_SLICE = 0.2
#: errno values of a failed open that mean "the device is not there".


class WeatherAsciiConfig(DeviceConfig):
    driver: Literal["weather_ascii"]
    serial: SerialPort
    address: str = Field(
        "0", pattern="^[0-9A-Za-z]$", description="station address (aXU,A), one character"
    )
    mode: Literal["poll", "stream"] = Field(
        "poll", description="poll: the gateway sends 0R0; stream: the station sends on its own"
    )
    poll_interval: float = Field(10.0, ge=1, le=3600, description="seconds between polls")
    crc: Literal["none", "check"] = Field(
        "none",
        description="check: poll with 0r0 so the station appends a CRC, and refuse sentences "
        "without a valid one; none: CRCs are still verified when a sentence carries one",
    )
    answer_timeout: float = Field(
        2.0, gt=0, le=30, description="poll mode: seconds to wait for the answer"
    )
    stream_timeout: float = Field(
        60.0, gt=0, le=3600, description="stream mode: seconds of silence before 'timeout'"
    )
    rain_mode: Literal["total", "interval"] = Field(
        "total",
        description="total: Rc accumulates until reset (WXT default); interval: the station "
        "resets Rc after every message",
    )
    rain_rollover: float | None = Field(
        None, gt=0, description="mm at which the station's Rc accumulator wraps to 0, if it does"
    )


class WeatherAsciiDriver(SerialSessionDriver):
    config: WeatherAsciiConfig

    def __init__(self, config: WeatherAsciiConfig, sink: Sink, clock: Clock = time.time) -> None:
        super().__init__(config, sink, clock)
        self.decoder = WeatherDecoder(
            config.address,
            require_crc=config.crc == "check",
            rain_mode=config.rain_mode,
            rain_rollover=config.rain_rollover,
        )
        self.query = format_query(config.address, 0, crc=config.crc == "check")
        self.lines = 0  # lines handled, good or bad
        self.sentences = 0  # sentences decoded
        self.decode_errors: dict[str, int] = {}  # WeatherError.reason -> count

    # -- loop -------------------------------------------------------------------------------
    read_slice = READ_SLICE

    def session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        if self.config.mode == "poll":
            self._poll_session(port, stop)
        else:
            self._stream_session(port, stop)

    def opened(self, port: serial.SerialBase) -> None:
        self.log.info(
            "device %s: opened %s (%s mode)",
            self.config.id,
            self.config.serial.port,
            self.config.mode,
        )
        if self.state in ("starting", "unplugged", "error"):
            self.set_state("ok")

    def _unplugged(self, exc: Exception) -> None:
        port = self.config.serial.port
        self.set_state("unplugged", f"{port}: {exc}", io_problem(port))

    # -- poll mode --------------------------------------------------------------------------
    def _poll_session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        interval = self.config.poll_interval
        while not stop.is_set():
            try:
                self._poll_once(port, stop)
            except (OSError, termios.error) as exc:  # serial.SerialException included
                self._unplugged(exc)
                return
            stop.wait(interval - self.clock() % interval)

    def _poll_once(self, port: serial.SerialBase, stop: threading.Event) -> None:
        """Send the query and handle the first line that comes back, or mark a timeout."""
        port.reset_input_buffer()  # nothing stale may pass for the answer
        port.write(self.query)
        framer = LineFramer(MAX_LINE)
        framer.feed(b"\n")  # in sync: the answer starts a line
        deadline = time.monotonic() + self.config.answer_timeout
        echo = self.query.strip()
        while not stop.is_set() and time.monotonic() < deadline:
            data = port.read(port.in_waiting or 1)
            # An RS-485 adapter with local echo hands the query back first: not the answer.
            lines = [line for line in framer.feed(data) if line.strip() != echo] if data else []
            if lines:
                self._line(lines[0], self.clock())
                return
        if not stop.is_set():
            seconds = f"{self.config.answer_timeout:g}"
            self.set_state(
                "timeout",
                f"no answer to {self.query.strip().decode()} within {seconds} s",
                ("no_reply", {"query": self.query.strip().decode(), "seconds": seconds}),
            )

    # -- stream mode ------------------------------------------------------------------------
    def _stream_session(self, port: serial.SerialBase, stop: threading.Event) -> None:
        framer = LineFramer(MAX_LINE)  # not in sync: the first, partial line is dropped
        self.read_lines(port, stop, framer, self._line, self.config.stream_timeout)

    # -- per line ---------------------------------------------------------------------------
    def _line(self, line: bytes, received: float) -> None:
        try:
            self._handle(line, received)
        finally:
            self.lines += 1  # counted once the state is current (tests wait on it)

    def _handle(self, line: bytes, received: float) -> None:
        try:
            decoded = self.decoder.decode(line)
        except WeatherError as exc:
            self.log.debug("device %s: skipped line: %s", self.config.id, exc)
            self.set_state("decode_error", str(exc), ("bad_line", {"reason": exc.reason}))
            self.decode_errors[exc.reason] = self.decode_errors.get(exc.reason, 0) + 1
            return
        sentence = decoded.sentence
        # A new dict, never changed in place: the publisher reads it from another thread.
        info = {k: v for k, v in self.info.items() if k != "missing"}
        if sentence.missing:
            info["missing"] = list(sentence.missing)
        self.info = info
        if sentence.problems:
            for problem in sentence.problems.values():
                self.log.debug("device %s: skipped value: %s", self.config.id, problem)
            self.decode_errors["value"] = self.decode_errors.get("value", 0) + 1
            skipped = "; ".join(sentence.problems.values())
            fields = ", ".join(sentence.problems)
            problem = ("not_published", {"fields": fields})
            self.set_state("decode_error", f"value(s) skipped: {skipped}", problem)
        elif self.state != "ok":
            self.set_state("ok")
        self.sentences += 1
        if not decoded.fields:
            return
        self.emit(MEASUREMENT, received, decoded.fields)
