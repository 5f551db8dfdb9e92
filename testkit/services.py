"""Real service processes for tests: Mosquitto and InfluxDB 1.x on free ports in temp dirs.

Each helper is a context manager that starts the real binary (through testkit/children.py,
so Ctrl-C reaches pytest only), waits until it answers, and stops it on exit (also when the
test fails). Nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit import children

# Ports handed out below the kernel's ephemeral range (ip_local_port_range starts at 32768),
# so an outgoing connection can never take a port between free_port() and the bind of the
# service it was picked for; each pytest-xdist worker draws from its own slice, and each
# process walks its slice from an offset of its own, so two workers never race for one port.
_PORT_LOW, _PORT_SLICE, _PORT_SLICES = 12000, 4000, 5
_next_port = itertools.count(os.getpid() * 7919)


def _slice() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) % (_PORT_SLICES - 1) + 1 if worker[2:].isdigit() else 0


def free_port() -> int:
    low = _PORT_LOW + _slice() * _PORT_SLICE
    for _ in range(_PORT_SLICE):
        port = low + next(_next_port) % _PORT_SLICE
        with socket.socket() as s:  # no SO_REUSEADDR: a port in TIME_WAIT counts as taken
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in 127.0.0.1:{low}-{low + _PORT_SLICE - 1}")


def wait_port(
    port: int,
    timeout: float = 15.0,
    proc: subprocess.Popen | None = None,
    host: str = "127.0.0.1",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def conf_listeners(conf: str) -> list[tuple[str, int]]:
    """(host, port) of every ``listener PORT [HOST]`` line of a Mosquitto conf; a listener
    without a host listens on every address, 127.0.0.1 among them."""
    found = []
    for line in conf.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "listener" and words[1].isdigit():
            found.append((words[2] if len(words) > 2 else "127.0.0.1", int(words[1])))
    return found


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    children.stop(proc, signal.SIGTERM, timeout)


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run `make test` (it installs the Debian packages "
            "mosquitto and influxdb) or install them by hand"
        )
    return path


@dataclass
class Mosquitto:
    port: int
    workdir: Path
    conf: Path
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = require_binary("mosquitto")
        out = self.log.open("ab")
        self.proc = children.start([binary, "-c", str(self.conf)], stdout=out, stderr=out)
        # Every listener, not only the first: Mosquitto opens them one after the other, and a
        # TLS listener (certificates to load) can still refuse after the plain one answers.
        for host, port in conf_listeners(self.conf.read_text()) or [("127.0.0.1", self.port)]:
            wait_port(port, proc=self.proc, host=host)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


def write_mosquitto_conf(
    workdir: Path,
    port: int,
    *,
    passwords: dict[str, str] | None = None,
    acl: str | None = None,
    persistence: bool = True,
    extra: str = "",
) -> Path:
    """A Mosquitto config for tests. With *passwords*, anonymous access is refused."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "user root" if os.geteuid() == 0 else "",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {workdir}/",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        # Never drop QoS 1 messages queued for a slow or offline subscriber (the default of
        # 1000 queued messages silently discards the rest).
        "max_queued_messages 0",
        "max_inflight_messages 0",
    ]
    if passwords:
        pwfile = workdir / "passwd"
        pwfile.write_text("")
        for user, password in passwords.items():
            subprocess.run(
                [require_binary("mosquitto_passwd"), "-b", str(pwfile), user, password],
                check=True,
                capture_output=True,
            )
        pwfile.chmod(0o600)
        lines += ["allow_anonymous false", f"password_file {pwfile}"]
    else:
        lines.append("allow_anonymous true")
    if acl is not None:
        aclfile = workdir / "acl"
        aclfile.write_text(acl)
        aclfile.chmod(0o600)
        lines.append(f"acl_file {aclfile}")
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(line for line in lines if line) + "\n" + extra)
    return conf


@contextlib.contextmanager
def mosquitto(workdir: Path, **kwargs) -> Iterator[Mosquitto]:
    port = free_port()
    conf = write_mosquitto_conf(workdir, port, **kwargs)
    broker = Mosquitto(port, workdir, conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class Influx:
    port: int
    workdir: Path
    conf: Path
    proc: subprocess.Popen | None = None
    cpus: set[int] | None = None  # run on these CPUs only (benchmarks), GOMAXPROCS to match

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = require_binary("influxd")
        out = (self.workdir / "influxd.log").open("ab")
        env, pin = None, None
        if self.cpus:
            cpus = set(self.cpus)
            env = {**os.environ, "GOMAXPROCS": str(len(cpus))}

            def pin() -> None:
                os.sched_setaffinity(0, cpus)

        self.proc = children.start(
            [binary, "-config", str(self.conf)], stdout=out, stderr=out, env=env, preexec_fn=pin
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited with {self.proc.returncode}; see {out.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            time.sleep(0.1)
        raise TimeoutError("influxd did not answer /ping within 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, timeout=20)
            self.proc = None

    def query(self, q: str, db: str | None = None) -> dict:
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        r = httpx.post(f"{self.url}/query", params=params, timeout=10)
        r.raise_for_status()
        return r.json()


def write_influx_conf(
    workdir: Path,
    port: int,
    *,
    auth: bool = False,
    max_body_size: int | None = None,
    cold_after: str | None = None,
) -> Path:
    """An influxd config for tests; *max_body_size* (bytes) caps a /write request's body
    (influxd answers 413 above it; its own default is 25 MB); *cold_after* (e.g. ``"1s"``)
    is how long a shard goes unwritten before its full compaction (influxd's default: 4h)."""
    workdir.mkdir(parents=True, exist_ok=True)
    body_limit = "" if max_body_size is None else f"\n  max-body-size = {max_body_size}"
    cold = "" if cold_after is None else f'\n  compact-full-write-cold-duration = "{cold_after}"'
    rpc = free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
  index-version = "inmem"{cold}
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false{body_limit}
[monitor]
  store-enabled = false
[continuous_queries]
  log-enabled = false
[logging]
  level = "warn"
"""
    )
    return conf


@contextlib.contextmanager
def influxd(
    workdir: Path,
    *,
    auth: bool = False,
    cpus: set[int] | None = None,
    max_body_size: int | None = None,
    cold_after: str | None = None,
) -> Iterator[Influx]:
    port = free_port()
    conf = write_influx_conf(
        workdir, port, auth=auth, max_body_size=max_body_size, cold_after=cold_after
    )
    server = Influx(port, workdir, conf, cpus=cpus)
    server.start()
    try:
        yield server
    finally:
        server.stop()
