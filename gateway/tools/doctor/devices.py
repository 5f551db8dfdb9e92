"""``gateway doctor``: read each configured device once through its real driver.

The driver class from the registry is instantiated with the device's config and run in a
thread of its own, exactly as the gateway runs it, while the doctor watches its public state
(``state``, ``last_error``, the readings handed to the sink, ``info``) and then stops it:

- ``modbus``: until the first poll (made as soon as the driver starts) gives a reading or a
  failure state. The values are checked against each profile field's ``range`` when the
  profile gives one, else :data:`gateway.tools.scan.core.PLAUSIBLE`. A device that stays
  silent or garbled is then looked for at the other baud rates and parities (one read
  request each, :func:`gateway.tools.scan.bus.find_unit`): when it answers at other
  settings, the remedy names them (a wrong baud rate is the most common roadside fault).
- ``traffic_counter``: up to ``wait`` seconds for one valid vehicle record or heartbeat
  (the counter sends a heartbeat every 10 s on an empty road).
- any other driver: up to ``wait`` seconds for a reading or ``info`` (e.g. a GPS clock
  offset), or a failure state.

Readings the doctor receives are only shown, never spooled or published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.devices.base import DeviceConfig, Driver, Problem
from gateway.tools.doctor.checks import Result, Status
from gateway.tools.scan.bus import find_unit, search_order
from gateway.tools.scan.core import out_of_range, values_text
from kernel.config import ConfigError
from kernel.text import CATALOGUE, Joined, T, Text
from telemetry.models import Reading

FAILURES = ("timeout", "crc_error", "decode_error", "unplugged", "error")
#: Extra seconds on top of a device's own timeouts before the doctor gives up on it.
MARGIN = 3.0
#: Failures after which the doctor looks for the device at other line settings, and how
#: long it waits for each probe's answer (a device answers within tens of milliseconds).
SEARCH_AFTER = ("timeout", "crc_error")
SEARCH_TIMEOUT = 0.25

DriverTable = dict[str, tuple[type[DeviceConfig], type[Driver]]]


class Watch:
    """A driver running in its own thread, collecting what it hands to the sink."""

    def __init__(self, factory: Callable[[Callable], Driver]) -> None:
        self.readings: list[Reading] = []
        self.driver = factory(self.readings.extend)
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.driver.run, args=(self.stop,), name="doctor-device", daemon=True
        )

    def until(self, done: Callable[[], bool], timeout: float) -> float:
        """Run until *done()* or *timeout* seconds; return the seconds it took."""
        started = time.monotonic()
        self.thread.start()
        try:
            while time.monotonic() - started < timeout and self.thread.is_alive() and not done():
                time.sleep(0.05)
            if not self.readings:
                time.sleep(0.15)  # the sink is called just after the state is set
        finally:
            self.stop.set()
            serial = getattr(self.driver.config, "serial", None)
            self.thread.join((serial.timeout if serial else 1.0) + 2.0)
        return time.monotonic() - started


class _Rows:
    """Builds the result row of one device."""

    def __init__(self, config: DeviceConfig, details: dict[str, Any]) -> None:
        self.name = T("name.device", device=config.id)
        self.details = details
        serial = getattr(config, "serial", None)
        self.port = serial.port if serial else "-"
        self.baud = serial.baudrate if serial else "-"
        self.parity = serial.parity if serial else "-"

    def row(self, status: Status, message: Text, remedy: Text | None = None) -> Result:
        return Result("device", self.name, status, message, remedy, self.details)

    def failure(self, state: str, driver: Driver, remedy: Text) -> Result:
        self.details.update(state=state, error=driver.last_error, problem=driver.last_problem)
        detail = problem_text(driver.last_problem, driver.last_error or state)
        return self.row("fail", T(f"device.{state}", detail=detail), remedy)


def problem_text(problem: Problem | None, fallback: str) -> Text:
    """A driver's problem in the catalogue's words (``problem.<code>``); a problem without a
    known code is shown as a technical detail for the admin, quoted as it is."""
    if problem is not None and f"problem.{problem[0]}" in CATALOGUE:
        return T(f"problem.{problem[0]}", **problem[1])
    return T("problem.other", text=fallback)


def reasons_text(errors: dict[str, int]) -> Joined:
    """A streaming device's refused lines by reason, e.g. "bentuk baris salah (3 kali)"."""
    items = []
    for reason, n in sorted(errors.items()):
        key = f"reason.{reason}"
        shown = T(key) if key in CATALOGUE else T("problem.other", text=reason)
        items.append(T("device.reason_count", reason=shown, n=n))
    return Joined(tuple(items))


def check_device(config: DeviceConfig, table: DriverTable, wait: float) -> Result:
    driver_name: str = config.driver  # type: ignore[attr-defined]
    rows = _Rows(config, {"device": config.id, "driver": driver_name})
    try:
        cls = table[driver_name][1]
        watch = Watch(lambda sink: cls(config, sink))
    except ConfigError as exc:
        problems = "; ".join(f"{k} = {v!r}: {m}" for k, v, m in exc.problems)
        return _not_built(rows, f"{exc.path}: {problems}")
    except Exception as exc:  # a driver that cannot be built: report it, never crash
        return _not_built(rows, f"{type(exc).__name__}: {exc}")
    probe = {"modbus": _modbus, "traffic_counter": _traffic}.get(driver_name, _generic)
    result = probe(watch, config, wait, rows)
    if watch.driver.info:
        rows.details["info"] = dict(watch.driver.info)
    return result


def _not_built(rows: _Rows, detail: str) -> Result:
    rows.details["error"] = detail
    message = T("device.driver_failed", detail=T("problem.other", text=detail))
    return rows.row("fail", message, T("device.driver_failed.remedy"))


def _modbus(watch: Watch, config: Any, wait: float, rows: _Rows) -> Result:
    driver: Any = watch.driver
    profile = driver.profile.profile
    tries = config.retries + 1
    budget = config.serial.timeout * tries * max(1, len(driver.profile.blocks)) + MARGIN

    def done() -> bool:  # a complete read (reads: answered polls), or a failure
        return bool(watch.readings) or getattr(driver, "reads", 0) > 0 or driver.state in FAILURES

    seconds = watch.until(done, budget)
    rows.details["seconds"] = round(seconds, 2)
    args = {
        "port": rows.port,
        "baud": rows.baud,
        "parity": rows.parity,
        "unit": config.unit,
        "profile": config.profile,
    }
    answered = bool(watch.readings) or getattr(driver, "reads", 0) > 0
    if answered and driver.state == "decode_error":  # the driver refused some values
        rows.details.update(state=driver.state, error=driver.last_error)
        if watch.readings:
            rows.details["fields"] = dict(watch.readings[0].fields)
        problems = problem_text(driver.last_problem, driver.last_error or "-")
        message = T("device.implausible", unit=config.unit, problems=problems)
        return rows.row("warn", message, T("device.implausible.remedy", profile=config.profile))
    if watch.readings:
        fields = dict(watch.readings[0].fields)
        rows.details["fields"] = fields
        bad = out_of_range(profile.fields, fields)
        if bad:
            rows.details["out_of_range"] = [name for name, *_ in bad]
            problems = Joined(
                tuple(
                    T("device.out_of_range", field=n, value=f"{v:g}", low=f"{lo:g}", high=f"{hi:g}")
                    for n, v, lo, hi in bad
                )
            )
            message = T("device.implausible", unit=config.unit, problems=problems)
            return rows.row("warn", message, T("device.implausible.remedy", profile=config.profile))
        units = {f.name: f.unit for f in profile.fields}
        message = T("device.modbus_ok", unit=config.unit, values=values_text(fields, units))
        return rows.row("pass", message)
    if answered:  # e.g. only counters: the first poll sets their baseline, no value yet
        return rows.row("pass", T("device.modbus_first_poll", unit=config.unit))
    elsewhere = _search(config, rows) if driver.state in (*SEARCH_AFTER, "starting") else None
    if driver.state in FAILURES:
        remedy = elsewhere or T(f"device.{driver.state}.remedy", **args)
        return rows.failure(driver.state, driver, remedy)
    message = T("device.no_sign", seconds=round(budget))
    return rows.row("fail", message, elsewhere or T("device.timeout.remedy", **args))


def _search(config: Any, rows: _Rows) -> Text | None:
    """The remedy when the device answers at other line settings, else None."""
    port = config.serial
    found = find_unit(
        port.port, search_order(config.unit, port.baudrate, port.parity), SEARCH_TIMEOUT
    )
    if found is None:
        return None
    rows.details["answers_at"] = {"baudrate": found.baud, "parity": found.parity}
    configured = f"{port.baudrate} baud {port.bytesize}{port.parity}{port.stopbits}"
    return T(
        "device.answers_elsewhere.remedy",
        device=config.id,
        found=f"{found.baud} baud {found.frame}",
        configured=configured,
        baud=found.baud,
        parity=found.parity,
    )


def _traffic(watch: Watch, config: Any, wait: float, rows: _Rows) -> Result:
    driver: Any = watch.driver

    def done() -> bool:
        return driver.records + driver.heartbeats > 0 or driver.state in ("unplugged", "error")

    seconds = watch.until(done, wait)
    rows.details.update(
        seconds=round(seconds, 2),
        records=driver.records,
        heartbeats=driver.heartbeats,
        decode_errors=dict(driver.decode_errors),
    )
    if driver.records + driver.heartbeats > 0:
        message = T(
            "device.traffic_ok",
            records=driver.records,
            heartbeats=driver.heartbeats,
            seconds=round(seconds),
        )
        return rows.row("pass", message)
    if driver.state in ("unplugged", "error"):
        return rows.failure(driver.state, driver, T(f"device.{driver.state}.remedy"))
    if driver.decode_errors:
        return _stream_bad(driver, rows)
    message = T("device.traffic_silent", seconds=round(wait))
    return rows.row("fail", message, T("device.traffic_silent.remedy", baud=rows.baud))


def _stream_bad(driver: Any, rows: _Rows) -> Result:
    errors = reasons_text(driver.decode_errors)
    detail = problem_text(driver.last_problem, driver.last_error or "-")
    message = T("device.stream_bad", errors=errors, detail=detail)
    return rows.row("fail", message, T("device.stream_bad.remedy", baud=rows.baud))


def _generic(watch: Watch, config: Any, wait: float, rows: _Rows) -> Result:
    driver = watch.driver

    def done() -> bool:
        answered = bool(watch.readings) or "clock_offset" in driver.info
        return answered or driver.state in ("unplugged", "error")

    seconds = watch.until(done, wait)
    rows.details.update(seconds=round(seconds, 2), state=driver.state)
    if watch.readings or driver.info:
        if watch.readings:
            rows.details["fields"] = dict(watch.readings[0].fields)
        message = T("device.generic_ok", state=driver.state, readings=len(watch.readings))
        return rows.row("pass", message)
    if getattr(driver, "decode_errors", None):
        return _stream_bad(driver, rows)
    if driver.state in ("unplugged", "error"):
        return rows.failure(driver.state, driver, T(f"device.{driver.state}.remedy"))
    if driver.state in FAILURES:
        remedy = T("device.stream_bad.remedy", baud=rows.baud)
        return rows.failure(driver.state, driver, remedy)
    if driver.state == "ok":
        message = T("device.generic_quiet", seconds=round(wait))
        return rows.row("warn", message, T("device.generic_quiet.remedy"))
    message = T("device.no_sign", seconds=round(wait))
    return rows.row("fail", message, T("device.no_sign.remedy", baud=rows.baud))
