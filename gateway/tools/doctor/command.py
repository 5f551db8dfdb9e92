"""``jagajalan gateway doctor``: what is wrong with this gateway, in two minutes.

Order of work:

1. the config (its problems are failures in the table, never a traceback; without a valid
   config only the clock checks can run);
2. the spool (quick), which also tells whether the gateway service is running: it holds the
   spool, and then its serial ports are busy, so the device reads are skipped (a doctor
   reading the ports at the same time would steal the gateway's data);
3. in parallel, each under its own timeout: every serial port with its devices (devices on
   one port one after the other, as on the bus), the broker (reachable, login, publish
   round trip), disk space and NTP;
4. the clock, and the GPS clock offset of any device that reported one.

The table goes to stdout (or the JSON with ``--json``), progress to stderr. Exit status
(:func:`exit_code`): 1 if any check failed; else 3 if something could not be checked because
another program holds it (the running gateway service holds the spool and its serial ports,
or a port is locked by another program): what was checked passed, but the doctor says what it
did not check and how to check it, and never calls that "all passed"; else 0 (warnings and
skips that follow from a failure do not count).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gateway import devices as _drivers
from gateway.config import GatewayConfig
from gateway.tools.doctor.broker import check_broker
from gateway.tools.doctor.checks import (
    Result,
    check_clock,
    check_config,
    check_disk,
    check_ntp,
    check_serial,
    check_spool,
    wib,
)
from gateway.tools.doctor.devices import DriverTable, check_device
from gateway.tools.doctor.output import exit_code, render_table, report
from kernel.text import Lang, T, Text, tr

#: GPS clock offsets (seconds): up to WARN is fine, above FAIL the readings' times are wrong.
GPS_OFFSET_WARN = 2.0
GPS_OFFSET_FAIL = 60.0
BROKER_TIMEOUT = 5.0
#: No single check (a port with all its devices, the broker) may take longer than this.
MAX_TASK = 100.0


@dataclass
class Task:
    """One check (or a group run in order) with a deadline and the row shown if it hangs."""

    check: str
    name: Text
    run: Callable[[], list[Result]]
    timeout: float


def run_tasks(
    tasks: list[Task], progress: Progress | None = None, lang: Lang = "id"
) -> list[list[Result]]:
    """Run *tasks* in parallel daemon threads; a task past its timeout gives a failure row
    (its thread is abandoned, never waited for), one that raises gives a 'crashed' row."""
    out: list[list[Result] | None] = [None] * len(tasks)

    def work(i: int, task: Task) -> None:
        what = tr("doctor.progress", lang, what=task.name)
        job = progress.add_task(what, total=None) if progress else None
        started = time.monotonic()
        try:
            rows = task.run()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            rows = [
                Result(
                    task.check,
                    task.name,
                    "fail",
                    T("check.crashed", error=error),
                    T("check.crashed.remedy"),
                )
            ]
        for row in rows:
            row.seconds = row.seconds or time.monotonic() - started
        out[i] = rows
        if progress is not None and job is not None:
            progress.remove_task(job)

    threads = [
        threading.Thread(target=work, args=(i, t), name=f"doctor-{t.check}", daemon=True)
        for i, t in enumerate(tasks)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread, task in zip(threads, tasks, strict=True):
        thread.join(max(0.0, started + task.timeout - time.monotonic()))
    results = []
    for rows, task in zip(out, tasks, strict=True):
        if rows is None:
            message = T("check.timeout", seconds=round(task.timeout))
            rows = [Result(task.check, task.name, "fail", message, T("check.timeout.remedy"))]
        results.append(rows)
    return results


def _port_group(
    port: str | None, devices: list[Any], table: DriverTable, wait: float, running: bool
) -> list[Result]:
    """A serial port's row, then its devices' rows, read one after the other (one bus)."""
    results: list[Result] = []
    port_ok = busy = True
    if port is not None:
        results.append(check_serial(port))
        port_ok = results[-1].status == "pass"
        busy = bool(results[-1].details.get("busy"))
    for device in devices:
        name, details = T("name.device", device=device.id), {"device": device.id}
        if running:
            message, remedy = T("device.skip_running"), T("device.skip_running.remedy")
            results.append(Result("device", name, "skip", message, remedy, details))
        elif port is not None and busy:
            message, remedy = T("device.skip_busy", port=port), T("serial.busy.remedy", port=port)
            results.append(Result("device", name, "skip", message, remedy, details))
        elif not port_ok:
            message = T("device.skip_port", port=port)
            results.append(Result("device", name, "skip", message, details=details))
        else:
            results.append(check_device(device, table, wait))
    return results


def _device_budget(device: Any, wait: float) -> float:
    serial = getattr(device, "serial", None)
    timeout = serial.timeout if serial else 1.0
    retries = getattr(device, "retries", 0)
    return max(wait, timeout * (retries + 1) * 4) + 10.0


def collect(
    config_path: str,
    wait: float,
    table: DriverTable | None = None,
    progress: Progress | None = None,
    lang: Lang = "id",
) -> tuple[GatewayConfig | None, list[Result]]:
    """Every check's rows, in table order."""
    table = _drivers.DRIVERS if table is None else table
    config, config_rows = check_config(config_path)
    if config is None:  # only the clock can be checked without a config
        ntp_rows = run_tasks([_ntp_task()], progress, lang)[0]
        return None, [*config_rows, check_clock(time.time()), *ntp_rows]
    spool_rows, running = check_spool(config, time.time)
    groups: dict[str | None, list[Any]] = {}
    for device in config.devices:
        serial = getattr(device, "serial", None)
        groups.setdefault(serial.port if serial else None, []).append(device)
    tasks = []
    for port, devices in groups.items():
        name = T("name.serial", port=port) if port else T("name.device", device=devices[0].id)
        budget = min(MAX_TASK, sum(_device_budget(d, wait) for d in devices))

        def group(port: str | None = port, devices: list[Any] = devices) -> list[Result]:
            return _port_group(port, devices, table, wait, running)

        tasks.append(Task("device", name, group, budget))
    broker = Task(
        "broker",
        T("name.broker"),
        lambda: check_broker(config, running, BROKER_TIMEOUT),
        4 * BROKER_TIMEOUT + 10,
    )
    disk = Task("disk", T("name.disk"), lambda: [check_disk(config)], 10.0)
    done = run_tasks([*tasks, broker, disk, _ntp_task()], progress, lang)
    device_rows = [row for rows in done[: len(tasks)] for row in rows]
    broker_rows, disk_rows, ntp_rows = done[len(tasks) :]
    clock_rows = [check_clock(time.time()), *ntp_rows, *_gps_rows(config, device_rows, wait)]
    return config, [
        *config_rows,
        *device_rows,
        *broker_rows,
        *spool_rows,
        *disk_rows,
        *clock_rows,
    ]


def _ntp_task() -> Task:
    return Task("ntp", T("name.ntp"), lambda: [check_ntp()], 10.0)


def _gps_rows(config: GatewayConfig, device_rows: list[Result], wait: float) -> list[Result]:
    """The clock offset of every device that reported one (a GPS); a GPS that was read but
    gave no time is shown as skipped. The device's own ``clock_warning`` (seconds) is the
    warning threshold when it has one."""
    devices = {d.id: d for d in config.devices}
    rows = []
    for row in device_rows:
        device_id = row.details.get("device")
        device = devices.get(device_id) if row.check == "device" else None
        if device is None:
            continue
        name = T("name.gps", device=device_id)
        offset = row.details.get("info", {}).get("clock_offset")
        if offset is None:
            if "gps" in device.driver and row.status in ("pass", "fail"):  # type: ignore[attr-defined]
                rows.append(Result("gps", name, "skip", T("gps.no_answer", seconds=round(wait))))
            continue
        warn_at = getattr(device, "clock_warning", GPS_OFFSET_WARN)
        shown = f"{offset:+.1f}"
        details = {"device": device_id, "clock_offset": offset, "warn_above": warn_at}
        if abs(offset) <= warn_at:
            rows.append(Result("gps", name, "pass", T("gps.ok", offset=shown), details=details))
        else:
            status = "fail" if abs(offset) > GPS_OFFSET_FAIL else "warn"
            key = "gps.behind" if offset < 0 else "gps.ahead"
            message, remedy = T(key, offset=f"{abs(offset):.1f}"), T("gps.off.remedy")
            rows.append(Result("gps", name, status, message, remedy, details))
    return rows


def run_doctor(args: argparse.Namespace, table: DriverTable | None = None) -> int:
    lang: Lang = args.lang
    started = time.monotonic()
    err = Console(stderr=True)
    show_progress = not args.json and err.is_terminal
    quiet = _quiet_drivers()
    try:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=not show_progress) as progress:
            shown = progress if show_progress else None
            config, results = collect(args.config, args.wait, table, shown, lang)
    finally:
        quiet()
    seconds = time.monotonic() - started
    gateway = config.gateway.id if config else None
    if args.json:
        print(
            json.dumps(
                report(results, lang, args.config, gateway, seconds),
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    else:
        # Not a terminal (a pipe, a file to send the admin): wide lines unless COLUMNS says.
        wide = sys.stdout.isatty() or "COLUMNS" in os.environ
        out = Console(highlight=False, width=None if wide else 160)
        title = tr("doctor.title", lang, gateway=gateway or args.config, time=wib(time.time()))
        render_table(results, lang, out, title, seconds)
    return exit_code(results)


def _quiet_drivers() -> Callable[[], None]:
    """The doctor reports device and broker trouble itself: keep the drivers' log lines out of
    its output (unless --log-level DEBUG). Returns the function that restores the levels."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return lambda: None
    names = ("gateway", "pymodbus")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)

    def restore() -> None:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)

    return restore
