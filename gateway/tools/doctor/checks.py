"""``gateway doctor``'s result type and its quick, local checks: the config, serial ports,
the spool, disk space and the clock. Device reads are in :mod:`gateway.tools.doctor.devices`, the
broker in :mod:`gateway.tools.doctor.broker`; :mod:`gateway.tools.doctor.command` runs them all.

Every check returns :class:`Result` objects whose texts are :class:`kernel.text.Text`, so they
are rendered in the technician's language only when printed. No check ever changes what it
looks at: the spool is opened through the :class:`~gateway.runtime.spool.Spool` API and only its
counters are read (nothing consumed, nothing created when the file is missing).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import grp
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gateway.config import GatewayConfig, load_gateway_config
from gateway.runtime.clock import CLOCK_FLOOR
from gateway.runtime.spool import Spool, SpoolError
from gateway.tools.scan.command import seen_ports
from kernel.config import PSEUDO_KEYS, ConfigError
from kernel.text import Lang, T, Text, duration, size
from kernel.times import wib_text

Status = Literal["pass", "warn", "fail", "skip"]

#: A system clock before this is certainly wrong (unset RTC, 1970): 2025-01-01 00:00 UTC,
#: earlier than any build of this software.
MIN_PLAUSIBLE_TIME = CLOCK_FLOOR  # below it the gateway holds its readings (runtime/clock.py)
MAX_PLAUSIBLE_TIME = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
#: Disk: below this much free space on the spool's filesystem the check fails.
DISK_MIN_FREE = 50_000_000
#: Bytes one reading takes in the spool (measured about 165 B for air_quality and traffic
#: readings in SQLite, with some margin), to estimate the space a full spool needs.
SPOOL_BYTES_PER_READING = 200
#: Oldest reading in the spool older than this: the gateway is not getting its data out.
SPOOL_BACKLOG_WARN = 3600.0
SPOOL_FULL_WARN = 0.9


@dataclass
class Result:
    """One line of the doctor's table."""

    check: str  # config, serial, device, broker, auth, publish, spool, disk, clock, ntp, gps
    name: Text
    status: Status
    message: Text
    remedy: Text | None = None
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self, lang: Lang) -> dict[str, Any]:
        return {
            "check": self.check,
            "name": self.name.render(lang),
            "status": self.status,
            "message": self.message.render(lang),
            "remedy": self.remedy.render(lang) if self.remedy else None,
            "key": self.message.key,
            "details": self.details,
            "seconds": round(self.seconds, 2),
        }


# -- config -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a logger whose warnings the doctor reports itself."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def check_config(path: str) -> tuple[GatewayConfig | None, list[Result]]:
    name = T("name.config")
    try:
        with _quiet("gateway.config"):
            config = load_gateway_config(path)
    except ConfigError as exc:
        results = []
        for (key, value, problem), text in zip(exc.problems, exc.problem_texts(), strict=True):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            shown_key = T(PSEUDO_KEYS[key]) if key in PSEUDO_KEYS else key
            message = T("config.problem", file=exc.path, key=shown_key, value=shown, problem=text)
            remedy = T("config.problem.remedy", key=key, file=exc.path)
            details = {"file": exc.path, "key": key, "value": _jsonable(value), "problem": problem}
            results.append(Result("config", name, "fail", message, remedy, details))
        return None, results
    except Exception as exc:  # a bug, but the doctor must still show the rest
        error = f"{type(exc).__name__}: {exc}"
        message, remedy = T("check.crashed", error=error), T("check.crashed.remedy")
        return None, [Result("config", name, "fail", message, remedy)]
    gw = config.gateway.id
    message = T("config.ok", file=path, gateway=gw, devices=len(config.devices))
    results = [Result("config", name, "pass", message, details={"file": path, "gateway": gw})]
    pwfile = config.mqtt.password_file
    if pwfile is not None:
        mode = stat.S_IMODE(pwfile.stat().st_mode)
        if mode & 0o077:
            text = T("config.password_mode", path=pwfile, mode=f"{mode:03o}")
            remedy = T("config.password_mode.remedy", path=pwfile)
            results.append(Result("config", name, "warn", text, remedy, {"mode": f"{mode:03o}"}))
    user = config.mqtt.username
    if user is not None and user != gw:
        text = T("config.username", username=user, gateway=gw)
        # The shipped broker keys the ACL on the username and accepts only client ids equal
        # to it (or "<username>.<...>"): the gateway, which connects as its id, is refused.
        results.append(Result("config", name, "fail", text, T("config.username.remedy")))
    return config, results


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


# -- serial ports -----------------------------------------------------------------------------


def check_serial(port: str) -> Result:
    name = T("name.serial", port=port)
    details: dict[str, Any] = {"port": port}
    if not os.path.exists(port):
        seen = ", ".join(seen_ports())
        details["seen"] = seen
        remedy = T("serial.missing.remedy", seen=seen or T("serial.none_seen"))
        return Result("serial", name, "fail", T("serial.missing", port=port), remedy, details)
    st = os.stat(port)
    target = os.path.realpath(port)
    details["target"] = target
    if not stat.S_ISCHR(st.st_mode):
        message, remedy = T("serial.not_tty", port=port), T("serial.not_tty.remedy")
        return Result("serial", name, "fail", message, remedy, details)
    if not os.access(port, os.R_OK | os.W_OK):
        group = _group_name(st.st_gid)
        mode = f"{stat.S_IMODE(st.st_mode):03o}"
        details.update(group=group, mode=mode)
        message = T("serial.denied", port=port, group=group, mode=mode)
        remedy = T("serial.denied.remedy", group=group, user=_user())
        return Result("serial", name, "fail", message, remedy, details)
    if port_busy(port):
        details["busy"] = True
        message = T("serial.busy", port=port)
        remedy = T("serial.busy.remedy", port=port)
        return Result("serial", name, "skip", message, remedy, details)
    return Result("serial", name, "pass", T("serial.ok", target=target), details=details)


def port_busy(port: str) -> bool:
    """Whether another program holds *port* the way the gateway does (an exclusive ``flock``,
    pyserial's ``exclusive=True``): then reading it would steal that program's bytes. The
    port is opened without becoming the controlling terminal and closed at once."""
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.errno == errno.EBUSY
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases our own lock
    return False


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "$USER"


# -- spool and disk ---------------------------------------------------------------------------


def check_spool(config: GatewayConfig, now: Callable[[], float]) -> tuple[list[Result], bool]:
    """The spool's health, and whether a running gateway holds it (then the serial ports
    are busy too). Opened through the Spool API, never created, nothing consumed."""
    path = config.spool_path
    name = T("name.spool")
    details: dict[str, Any] = {"path": str(path)}
    if not path.exists():
        parent = _existing_ancestor(path.parent)
        if parent == path.parent or os.access(parent, os.W_OK | os.X_OK):
            return [
                Result("spool", name, "pass", T("spool.missing", path=path), None, details)
            ], False
        remedy = T("spool.no_dir.remedy", dir=path.parent)
        message = T("spool.no_dir", dir=path.parent)
        return [Result("spool", name, "warn", message, remedy, details)], False
    try:
        spool = Spool(path, config.spool.max_readings, clock=now)
    except SpoolError as exc:
        if "in use" in str(exc):
            message = T("spool.in_use", path=path)
            result = Result(
                "spool", name, "warn", message, T("device.skip_running.remedy"), details
            )
            return [result], True
        details["error"] = str(exc)
        if not os.access(path, os.R_OK | os.W_OK) or "readonly" in str(exc):
            remedy = T("run_as_gateway.remedy")
            return [
                Result("spool", name, "fail", T("spool.denied", path=path), remedy, details)
            ], False
        message = T("spool.broken", error=exc)
        return [
            Result("spool", name, "fail", message, T("spool.broken.remedy", path=path), details)
        ], False
    with spool:
        depth, dropped, age = spool.depth(), spool.dropped(), spool.oldest_age()
    details.update(depth=depth, dropped=dropped, oldest_age=age, max=config.spool.max_readings)
    message = T("spool.ok", path=path, depth=depth, age=duration(age), dropped=dropped)
    results = [Result("spool", name, "pass", message, details=details)]
    if age is not None and age > SPOOL_BACKLOG_WARN:
        text = T("spool.backlog", age=duration(age))
        results.append(Result("spool", name, "warn", text, T("spool.backlog.remedy")))
    if depth >= SPOOL_FULL_WARN * config.spool.max_readings:
        text = T("spool.full", depth=depth, max=config.spool.max_readings)
        results.append(Result("spool", name, "warn", text, T("spool.dropped.remedy")))
    if dropped:
        text = T("spool.dropped", dropped=dropped)
        results.append(Result("spool", name, "warn", text, T("spool.dropped.remedy")))
    return results, False


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(config: GatewayConfig) -> Result:
    path = config.spool_path
    where = _existing_ancestor(path)
    usage = shutil.disk_usage(where)
    mount = _mount_point(where)
    current = path.stat().st_size if path.exists() else 0
    need = max(0, config.spool.max_readings * SPOOL_BYTES_PER_READING - current)
    percent = round(100 * usage.free / usage.total) if usage.total else 0
    details = {"mount": str(mount), "free": usage.free, "total": usage.total, "spool_need": need}
    name = T("name.disk")
    if usage.free < DISK_MIN_FREE:
        message = T("disk.low", free=size(usage.free), mount=mount)
        return Result("disk", name, "fail", message, T("disk.low.remedy"), details)
    if usage.free < need:
        message = T("disk.tight", free=size(usage.free), mount=mount, need=size(need))
        return Result("disk", name, "warn", message, T("disk.tight.remedy"), details)
    message = T("disk.ok", free=size(usage.free), mount=mount, percent=percent)
    return Result("disk", name, "pass", message, details=details)


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


# -- clock ------------------------------------------------------------------------------------


def wib(ts: float) -> str:
    """A time for people: ``2026-11-30 16:28:37`` in WIB (UTC+7, no daylight saving)."""
    return wib_text(ts)


def check_clock(now: float) -> Result:
    utc = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    details = {"utc": utc}
    if not MIN_PLAUSIBLE_TIME <= now < MAX_PLAUSIBLE_TIME:
        message = T("clock.wrong", wib=wib(now))
        return Result("clock", T("name.clock"), "fail", message, T("clock.wrong.remedy"), details)
    message = T("clock.ok", wib=wib(now), utc=utc[11:19])
    return Result("clock", T("name.clock"), "pass", message, details=details)


Runner = Callable[..., subprocess.CompletedProcess]


def check_ntp(run: Runner = subprocess.run) -> Result:
    """NTP state from ``timedatectl show`` (systemd); skipped with a note without it."""
    name = T("name.ntp")
    try:
        done = run(["timedatectl", "show"], capture_output=True, text=True, timeout=5)
    except FileNotFoundError:
        return Result("ntp", name, "skip", T("ntp.unavailable", reason="ENOENT timedatectl"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Result("ntp", name, "skip", T("ntp.unavailable", reason=str(exc)))
    if done.returncode != 0:
        reason = (done.stderr or done.stdout or f"exit {done.returncode}").strip().splitlines()[0]
        return Result("ntp", name, "skip", T("ntp.unavailable", reason=reason))
    props = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    details = {k: props[k] for k in ("NTP", "NTPSynchronized", "Timezone") if k in props}
    if props.get("NTPSynchronized") == "yes":
        return Result("ntp", name, "pass", T("ntp.ok"), details=details)
    if props.get("NTP") == "no":
        return Result("ntp", name, "warn", T("ntp.disabled"), T("ntp.disabled.remedy"), details)
    return Result("ntp", name, "warn", T("ntp.unsynced"), T("ntp.unsynced.remedy"), details)
