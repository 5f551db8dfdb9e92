"""The chaos rig: a real gateway on an emulated cabinet inside a network namespace of the
test's own, the rest of the stack outside it, every part real.

::

    pytest process (root namespace)                       namespace jjchaos<tag>
    emulated cabinet (Modbus env1 + traffic counter cnt1     jagajalan gateway run
      on pseudo-terminals, ground truth JSONL)  ── pty ──►   (testkit.gateway_cli: the real
    Mosquitto  127.0.0.1:P  and  <veth host end>:Q  ◄─veth─   CLI plus the test_emit device
      (or a DelayRelay on Q for latency)                      "e1", which logs every reading
    ingest ── InfluxDB 127.0.0.1                              the spool took)
    recorder (persistent session: every delivery, re-sends included)

Every client logs in with a password made for the run (:attr:`ChaosRig.secrets`), so the
logs can be scanned for them afterwards. The counts are made by :mod:`testkit.chaos.tally`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.devices.cabinet import (
    DeviceOptions,
    GatewayDevices,
    start_gateway_devices,
    stop_gateway_devices,
)
from simulators.sites import site
from simulators.truth import TruthWriter
from store.influx import InfluxStore
from testkit import REPO, children
from testkit.chaos.alerting import ALERTS_USER, AlertsWatch, alerts_watch
from testkit.chaos.relay import DelayRelay
from testkit.chaos.smallfs import small_fs
from testkit.gateway import Subscriber, current_status, to_toml, wait_until
from testkit.gateway_cli import CLOCK_FILE, REFUSED_LOG
from testkit.influx_setup import setup_database
from testkit.netns import NetNs, netns
from testkit.procs import stop, wait_for_log
from testkit.services import Influx, Mosquitto, free_port, write_mosquitto_conf
from testkit.shipped_broker import build_plugin, gate_plugin

GATEWAY = "srl-pasar-01"
INGEST_USER = "jagajalan_ingest"
RECORDER_USER = "chaos_recorder"
EMIT = "e1"  # the test_emit device: exact ground truth, one reading every EMIT_PERIOD
EMIT_PERIOD = 0.2


@dataclass
class Link:
    """How the gateway's link is made: MQTT keepalive, and latency through a relay."""

    keepalive: int = 5
    delay: float = 0.0  # seconds each way (a DelayRelay when > 0)
    jitter: float = 0.0
    encoding: str = "compact"
    #: Ingest workers: 1, or more sharing the readings (``--shared-group ingest``, each
    #: with a stable client id of its own, as docs/scaling.md asks).
    workers: int = 1
    #: The spool on a tmpfs of this many KiB made for the test (0: on the test's tmp):
    #: the disk that fills up (testkit/chaos/smallfs.py).
    spool_fs_kib: int = 0
    #: The gateway's clock offset (s) from its first start: e.g. ``-time.time()`` boots it at
    #: 1970, a gateway without a real-time clock before NTP sets it (testkit/gateway_cli.py).
    clock_offset: float = 0.0
    #: ``jagajalan alerts run`` beside ingest, telling a loopback webhook (alerting.py), its
    #: gateway-offline rule raising after this many seconds offline (None: no alerts service).
    alerts_after_s: float | None = None
    #: More broker users (name -> password), e.g. a fleet's gateways (soak.py).
    users: dict[str, str] = field(default_factory=dict)


@dataclass
class ChaosRig:
    tmp: Path
    ns: NetNs
    broker: Mosquitto
    influx: Influx
    db: str
    store: InfluxStore
    recorder: Subscriber
    devices: GatewayDevices
    config: Path
    spool: Path
    emit_log: Path
    truth: Path
    logs: Path
    t0: int  # time of the emit device's reading 0 (ms)
    secrets: dict[str, str]
    gateway: str = GATEWAY
    link: Link = field(default_factory=Link)
    relay: DelayRelay | None = None  # the latency, when the link has some
    proc: subprocess.Popen | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    alerts: AlertsWatch | None = None
    gateway_stopped_at: float = float("inf")  # when stop_gateway stopped it (unix time)

    @property
    def gateway_log(self) -> Path:
        return self.logs / "gateway.log"

    @property
    def clock_file(self) -> Path:
        """The gateway clock's offset from this machine's, s (testkit/gateway_cli.py)."""
        return self.tmp / "clock.offset"

    def set_clock(self, offset: float) -> None:
        """The gateway's clock jumps to this machine's plus *offset* seconds (within 0.1 s)."""
        tmp = self.clock_file.with_suffix(".new")
        tmp.write_text(f"{offset}\n")
        tmp.replace(self.clock_file)

    @property
    def refused_log(self) -> Path:
        """Each reading the spool refused (disk full), logged by testkit/gateway_cli.py."""
        return self.tmp / "refused.log"

    def start_gateway(self) -> None:
        args = [sys.executable, "-m", "testkit.gateway_cli", "--log-level", "INFO"]
        args += ["gateway", "run", "--config", str(self.config)]
        out = self.gateway_log.open("ab")
        self.proc = children.start(
            self.ns.exec_args(args),
            cwd=REPO,
            env={
                **os.environ,
                REFUSED_LOG: str(self.refused_log),
                CLOCK_FILE: str(self.clock_file),
            },
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
        )

    def stop_gateway(self, timeout: float = 60) -> int:
        assert self.proc is not None
        code = stop(self.proc, timeout=timeout)
        self.proc = None
        self.gateway_stopped_at = time.time()
        return code

    def kill_ingest(self, worker: int = 0) -> None:
        """SIGKILL an ingest worker: whatever it had not acknowledged, and (shared) its share
        of what comes meanwhile, the broker keeps in its session for the same client id."""
        proc = self.procs.pop(_worker_name(worker))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def start_ingest(self, worker: int = 0) -> None:
        """Start worker *worker* again, under its client id (its session resumes)."""
        name = _worker_name(worker)
        n = len(list(self.logs.glob(f"{name}*.log"))) + 1
        password = self.tmp / "ingest.pw"
        self.procs[name] = _start_ingest(
            self.broker,
            self.influx,
            self.db,
            password,
            self.logs / f"{name}-{n}.log",
            worker,
            self.link.workers,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict[str, Any]:
        auth = {"username": RECORDER_USER, "password": self.secrets[RECORDER_USER]}
        return current_status(self.broker.port, self.gateway, **auth) or {}

    def wait_online(self, timeout: float = 60) -> None:
        def online() -> bool:
            assert self.alive(), self.gateway_log.read_text()
            status = self.status()
            return status.get("state") == "online" and status.get("devices", {}).get(EMIT) == "ok"

        assert wait_until(online, timeout, step=0.5), self.gateway_log.read_text()

    def wait_drained(self, since: float, timeout: float = 300) -> bool:
        """Until a status sent after *since* shows nothing waiting longer than a PUBACK takes
        on this link (3 s, plus the relay's round trip: readings keep coming, so the spool
        is never empty for long, but nothing older than that is left of a backlog)."""
        slack = 3.0 + 2 * (self.link.delay + self.link.jitter)

        def drained() -> bool:
            assert self.alive(), self.gateway_log.read_text()
            s = self.status()
            fresh = (s.get("time") or 0) > since * 1000
            return fresh and s.get("spool_oldest_age", 1e9) < slack

        return wait_until(drained, timeout, step=1.0)

    def log_files(self) -> list[Path]:
        return sorted(p for p in self.tmp.rglob("*.log") if p.is_file())


def _write_secret(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def _gateway_config(devices: GatewayDevices, rig_tmp: Path, link: Link, pw: Path, t0: int) -> str:
    """The simulator's config, plus the test's settings and the emit device."""
    text = devices.config_path.read_text()
    mqtt = (
        f'username = "{GATEWAY}"\npassword_file = "{pw}"\nkeepalive = {link.keepalive}\n'
        "reconnect_min = 0.5\nreconnect_max = 2.0\n"
    )
    publish = (
        'health_interval = 2.0\nstatus_interval = 1.0\nreplay_rate = 50.0\nencoding = "'
        f'{link.encoding}"\n'
    )
    text = text.replace('protocol = "auto"', 'protocol = "5"')
    text = text.replace("[mqtt]\n", f"[mqtt]\n{mqtt}").replace(
        "[publish]\n", f"[publish]\n{publish}"
    )
    emit = {
        "driver": "test_emit",
        "id": EMIT,
        "count": 10_000_000,
        "period": EMIT_PERIOD,
        "log": str(rig_tmp / "emit.taken"),
        "t0": t0,
        "reopen_interval": 0.3,
    }
    return text + "\n" + to_toml({"devices": [emit]})


@contextlib.contextmanager
def chaos_rig(
    tmp: Path, influx: Influx, db: str, tag: str, link: Link | None = None, seed: int = 7
) -> Iterator[ChaosRig]:
    """Everything up, the gateway online and delivering; all of it stopped and removed after
    (the namespace too), also when the block fails."""
    link = link or Link()
    logs = tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    users = (GATEWAY, INGEST_USER, RECORDER_USER, ALERTS_USER)
    made = {u: secrets.token_urlsafe(18) for u in users} | link.users
    with contextlib.ExitStack() as stack:
        ns = stack.enter_context(netns(tag))
        port, outer = free_port(), free_port()
        relay = None
        extra = "" if link.delay else f"listener {outer} {ns.host_ip}\n"
        # The shipped broker's ingest gate (deploy/mosquitto/plugin/): readings are refused
        # after a (re)start until an ingest worker has subscribed again.
        gate = gate_plugin(build_plugin(tmp / "plugins"))
        extra += f"plugin {gate}\nplugin_opt_user {INGEST_USER}\n"
        # Every user may use every topic (isolation is tested on the shipped ACL elsewhere);
        # an ACL is needed beside the gate: with only a plugin that defers, Mosquitto refuses.
        acl = "pattern readwrite #\n"
        conf = write_mosquitto_conf(tmp / "broker", port, passwords=made, acl=acl, extra=extra)
        broker = Mosquitto(port, tmp / "broker", conf)
        broker.start()
        stack.callback(broker.stop)
        if link.delay:
            relay = DelayRelay((ns.host_ip, outer), ("127.0.0.1", port), link.delay, link.jitter)
            stack.callback(relay.close)
        setup_database(influx.url, db)
        store = InfluxStore(influx.url, db)
        stack.callback(store.close)
        ingest_pw = _write_secret(tmp / "ingest.pw", made[INGEST_USER])
        procs = {
            _worker_name(i): _start_ingest(
                broker, influx, db, ingest_pw, logs / f"{_worker_name(i)}.log", i, link.workers
            )
            for i in range(link.workers)
        }
        stack.callback(lambda: [stop(p) for p in procs.values()])
        alerts = None
        if link.alerts_after_s is not None:
            alerts = stack.enter_context(
                alerts_watch(
                    tmp / "alerts", broker, made[ALERTS_USER], influx, db, link.alerts_after_s
                )
            )
        topics = [f"jagajalan/v1/{GATEWAY}/readings", f"jagajalan/v1/{GATEWAY}/status"]
        recorder = stack.enter_context(
            Subscriber(
                port,
                topics,
                username=RECORDER_USER,
                password=made[RECORDER_USER],
                client_id=f"recorder-{tag}",
            )
        )
        truth = tmp / "truth.jsonl"
        spool_dir = tmp / "sim"
        if link.spool_fs_kib:
            spool_dir = stack.enter_context(small_fs(tmp / "spoolfs", link.spool_fs_kib))
        opts = DeviceOptions(
            spool_dir=spool_dir,
            seed=seed,
            broker_url=f"mqtt://{ns.host_ip}:{outer}",
            poll_interval=1.0,
            env_update_interval=0.5,
            traffic_interval=5,
            vehicles_per_minute=60,
            max_delay=0.5,
        )
        devices = start_gateway_devices(site(GATEWAY), tmp / "sim", opts, TruthWriter(truth))
        stack.callback(stop_gateway_devices, devices)
        t0 = int(time.time() - 600) * 1000
        gw_pw = _write_secret(tmp / "gateway.pw", made[GATEWAY])
        devices.config_path.write_text(_gateway_config(devices, tmp, link, gw_pw, t0))
        rig = ChaosRig(
            tmp=tmp,
            ns=ns,
            broker=broker,
            influx=influx,
            db=db,
            store=store,
            recorder=recorder,
            devices=devices,
            config=devices.config_path,
            spool=spool_dir / f"{GATEWAY}-spool.sqlite",
            emit_log=tmp / "emit.taken",
            truth=truth,
            logs=logs,
            t0=t0,
            secrets=made,
            link=link,
            relay=relay,
            procs=procs,
            alerts=alerts,
        )
        if link.clock_offset:
            rig.set_clock(link.clock_offset)
        rig.start_gateway()
        stack.callback(lambda: rig.proc is not None and rig.stop_gateway(30))
        rig.wait_online()
        yield rig


def _worker_name(worker: int) -> str:
    return "ingest" if worker == 0 else f"ingest{worker}"


def _start_ingest(
    broker: Mosquitto,
    influx: Influx,
    db: str,
    password_file: Path,
    log: Path,
    worker: int = 0,
    workers: int = 1,
) -> subprocess.Popen:
    args = ["--broker-url", broker.url, "--influx-url", influx.url, "--influx-db", db]
    args += ["--max-delay", "0.2"]
    if workers > 1:
        args += ["--client-id", f"ingest-chaos-{worker}", "--shared-group", "ingest"]
    else:
        args += ["--client-id", "ingest-chaos"]
    args += ["--mqtt-username", INGEST_USER, "--mqtt-password-file", str(password_file)]
    out = log.open("ab")
    proc = children.start(
        [sys.executable, "-m", "jagajalan.cli", "--log-level", "INFO", "ingest", "run", *args],
        cwd=REPO,
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
    )
    wait_for_log(log, "subscribed to", proc, timeout=60)
    return proc
