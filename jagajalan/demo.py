"""`jagajalan demo`: the whole chain on one machine, in the foreground.

Embedded defaults (used only when no real service is configured): an in-process MQTT broker
(amqtt) and an SQLite store. The chain is the production one: emulated serial devices on
pseudo-terminals -> two gateway processes -> broker -> ingest -> store -> API. Each component
runs as its own process with the same command line an operator would use; logs go to
``<dir>/logs``. Ctrl-C stops everything, newest first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GATEWAYS = ("srl-pasar-01", "srl-pauh-01")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole chain on this machine (embedded broker and store by default)",
        description=(
            "Runs emulated devices, two gateways, ingest and the API on http://127.0.0.1:8000. "
            "Uses a real broker or InfluxDB when JAGAJALAN_BROKER_URL / JAGAJALAN_INFLUX_URL "
            "(or the options) are set. Ctrl-C stops everything."
        ),
    )
    p.add_argument("--dir", type=Path, default=Path("var/demo"), help="working directory")
    p.add_argument(
        "--broker-url",
        default=os.environ.get("JAGAJALAN_BROKER_URL"),
        help="use this MQTT broker instead of the embedded one",
    )
    p.add_argument(
        "--influx-url",
        default=os.environ.get("JAGAJALAN_INFLUX_URL"),
        help="use this InfluxDB (1.x HTTP API) instead of the embedded SQLite store",
    )
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds (default: run until Ctrl-C)",
    )
    p.set_defaults(func=cmd_demo)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir: Path = args.dir.resolve()
        self.logs = self.dir / "logs"
        self.children: list[Child] = []
        self.broker = None

    def spawn(self, name: str, *argv: str) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        out = log.open("ab")
        cmd = [sys.executable, "-m", "jagajalan.cli", *argv]
        # Own process group: Ctrl-C in the terminal reaches only the demo, which then stops
        # the children in order.
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True
        )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def start(self) -> None:
        from jagajalan.embedded_broker import EmbeddedBroker, pick_port

        self.dir.mkdir(parents=True, exist_ok=True)
        broker_url = self.args.broker_url
        if not broker_url:
            self.broker = EmbeddedBroker(port=pick_port(1883))
            self.broker.start()
            broker_url = self.broker.url
        self.broker_url = broker_url
        if self.args.influx_url:
            store_args = ["--influx-url", self.args.influx_url]
            self.store_desc = f"InfluxDB {self.args.influx_url}"
        else:
            sqlite = self.dir / "jagajalan.sqlite"
            store_args = ["--sqlite", str(sqlite)]
            self.store_desc = f"SQLite {sqlite}"

        sim_dir = self.dir / "sim"
        ready = self.dir / "devices.ready"
        ready.unlink(missing_ok=True)
        self.spawn(
            "devices",
            "simulate",
            "devices",
            "--dir",
            str(sim_dir),
            "--gateways",
            ",".join(GATEWAYS),
            "--seed",
            str(self.args.seed),
            "--broker-url",
            broker_url,
            "--traffic-interval",
            "15",
            "--poll-interval",
            "2",
            "--vehicles-per-minute",
            "20",
            "--ready-file",
            str(ready),
        )
        self.wait_for(lambda: ready.exists(), 30, "emulated devices")
        if self.args.influx_url:
            # As an operator does once: ingest and the API create nothing in InfluxDB. Without
            # admin options this works on an InfluxDB without auth (a local one for the demo).
            log = self.logs / "setup.log"
            cmd = [sys.executable, "-m", "jagajalan.cli", "store", "setup", "--wait", "30"]
            with log.open("ab") as out:
                done = subprocess.run(
                    [*cmd, *store_args],
                    stdout=out,
                    stderr=out,
                    stdin=subprocess.DEVNULL,
                    timeout=120,
                )
            if done.returncode != 0:
                raise RuntimeError(f"`jagajalan store setup` failed; see {log}")
        ingest = self.spawn("ingest", "ingest", "run", "--broker-url", broker_url, *store_args)
        # Gateways start once ingest holds its subscription: the broker keeps QoS 1 messages
        # only for subscribers (or persistent sessions) that already exist.
        self.wait_for(lambda: "subscribed to" in ingest.log.read_text(), 30, "ingest")
        for gw in GATEWAYS:
            self.spawn(f"gateway-{gw}", "gateway", "run", "--config", str(sim_dir / f"{gw}.toml"))
        self.spawn(
            "api",
            "api",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.args.api_port),
            "--broker-url",
            broker_url,
            *store_args,
        )

    def wait_for(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            self.check_children()
            time.sleep(0.1)
        raise RuntimeError(f"{what} did not come up within {timeout:.0f} s; see {self.logs}")

    def check_children(self) -> None:
        for c in self.children:
            code = c.proc.poll()
            if code is not None:
                tail = "".join(c.log.read_text(errors="replace").splitlines(True)[-15:])
                raise RuntimeError(f"{c.name} exited with code {code}; last log lines:\n{tail}")

    def stop(self) -> None:
        """Newest first, one at a time: the API, the gateways (they publish "offline" and keep
        unsent readings in their spools), ingest (flushes), and last the devices."""
        for c in reversed(self.children):
            if c.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    c.proc.send_signal(signal.SIGTERM)
            try:
                c.proc.wait(15)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
        if self.broker is not None:
            self.broker.stop()


def _summary(api: str) -> str:
    import httpx

    try:
        gws = httpx.get(f"{api}/gateways", timeout=2).json()
        latest = httpx.get(f"{api}/readings/latest", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return "API not answering yet"
    seen = sorted({row["gateway"] for row in latest})
    states = ", ".join(f"{g['gateway']}={g.get('state') or '?'}" for g in gws)
    return f"gateways: {states or 'none yet'} | latest values: {len(latest)} from {seen}"


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    demo = Demo(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    api = f"http://127.0.0.1:{args.api_port}"
    code = 0
    try:
        demo.start()
        console.print(
            "[bold]JagaJalan demo is running[/bold]\n"
            f"  broker        {demo.broker_url}{' (embedded amqtt)' if demo.broker else ''}\n"
            f"  store         {demo.store_desc}\n"
            f"  latest values {api}/readings/latest\n"
            f"  gateways      {api}/gateways\n"
            f"  health        {api}/health\n"
            f"  API docs      {api}/docs\n"
            f"  logs          {demo.logs}\n"
            "Ctrl-C stops everything."
        )
        started = time.monotonic()
        while not stop.wait(5):
            demo.check_children()
            console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {_summary(api)}")
            if args.duration and time.monotonic() - started >= args.duration:
                break
    except RuntimeError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        code = 1
    finally:
        console.print("stopping ...")
        demo.stop()
    return code
