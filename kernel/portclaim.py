"""Lending a serial port to a flashing tool: the claim file the gateway's drivers honour.

A sensor node is flashed through the serial port its gateway driver reads (the laptop's
cable plugged where the node's cable was, or the gateway flashing its own node). Two programs
cannot share a port: the driver opens it ``exclusive`` (a ``flock``), and bytes read by one are
lost to the other. So the flashing tool *claims* the port:

1. it creates ``<claims dir>/<device>.claim`` (JSON: ``pid``, ``by``, ``since``; ``<device>``
   is the resolved device path with ``/`` as ``_``, so ``/dev/serial/by-id/...`` and
   ``/dev/ttyUSB0`` are one claim); a live claim by another process is refused;
2. every driver on that port checks for a claim before opening it and while it runs (the
   serial drivers at least every half second, a Modbus bus before every exchange); on seeing
   one it closes the port and reports the problem ``port_released`` until the claim is gone;
3. the tool waits until it can open the port exclusively itself (the driver has let go),
   flashes, and removes the claim; the driver reopens the port on its next attempt.

A claim whose process is dead (a tool killed mid-flash) counts as no claim, so a gateway never
stays deaf because of a crashed laptop tool. The directory is ``$JAGAJALAN_PORT_CLAIMS`` or
``/run/jagajalan/port-claims``; both sides must see the same one (the gateway's systemd unit
and a technician's shell on the gateway do by default).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from kernel.process import pid_alive

DEFAULT_DIR = Path("/run/jagajalan/port-claims")
ENV = "JAGAJALAN_PORT_CLAIMS"


class PortClaimed(Exception):
    """The port is already claimed by a live process (``by``, ``pid``)."""

    def __init__(self, port: str, by: str, pid: int) -> None:
        self.port, self.by, self.pid = port, by, pid
        super().__init__(f"{port} is claimed by {by} (pid {pid})")


def claims_dir(env: dict[str, str] | None = None) -> Path:
    value = (env if env is not None else os.environ).get(ENV)
    return Path(value) if value else DEFAULT_DIR


def claim_path(port: str, folder: Path) -> Path:
    real = os.path.realpath(port)
    return folder / (real.strip("/").replace("/", "_") + ".claim")


def read_claim(port: str, folder: Path) -> dict | None:
    """The live claim on *port*, or None (no claim, an unreadable one, or its process dead)."""
    try:
        claim = json.loads(claim_path(port, folder).read_text(encoding="utf-8"))
        pid = int(claim["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return claim if pid_alive(pid) else None


def is_claimed(port: str, folder: Path) -> bool:
    return read_claim(port, folder) is not None


@contextlib.contextmanager
def claim_port(port: str, folder: Path, by: str) -> Iterator[Path]:
    """Claim *port* for the ``with`` block; raises :class:`PortClaimed` if a live process
    holds it, OSError if the folder cannot be made or written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = claim_path(port, folder)
    body = json.dumps({"pid": os.getpid(), "by": by, "since": time.time(), "port": port})
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            live = read_claim(port, folder)
            if live is not None:
                raise PortClaimed(port, str(live.get("by", "?")), int(live["pid"])) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        break
    else:
        raise PortClaimed(port, "?", 0)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class ClaimWatch:
    """What a driver's session sees as its stop event: set when the gateway stops *or* the
    port is claimed (checked at most every *every* seconds, a ``stat`` and a small read).
    Quacks like :class:`threading.Event` for ``is_set`` and ``wait``."""

    def __init__(self, stop: threading.Event, port: str, folder: Path, every: float = 0.5) -> None:
        self.stop, self.port, self.folder, self.every = stop, port, folder, every
        self.claimed = False
        self._checked = 0.0

    def is_set(self) -> bool:
        if self.stop.is_set():
            return True
        now = time.monotonic()
        if now - self._checked >= self.every:
            self._checked = now
            self.claimed = is_claimed(self.port, self.folder)
        return self.claimed

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = self.every if end is None else min(self.every, end - time.monotonic())
            if left <= 0:
                return False
            self.stop.wait(left)
        return True
