"""`jagajalan demo`: the whole chain on one machine, in the foreground, telling a story.

Embedded defaults (used only when no real service is configured): an in-process MQTT broker
(amqtt, on 1883 when it is free, else on a free port) and an SQLite store. The chain is the
production one: emulated roadside cabinets on pseudo-terminals -> gateway processes ->
broker -> ingest -> store -> API, the indicators job reading and writing the store, and the
alerts service (rules of examples/alerts-demo.toml, told on the MQTT alert topic). Each
component runs as its own process with the same command line an operator would use; logs go
to ``<dir>/logs``. The example registry is in ``<dir>/registry.sqlite3``
(:mod:`jagajalan.demo_parts`).

The cabinets are driven by a scenario (default ``first_rains``: within five minutes the haze
changes ISPU category, the rush hour passes and water floods the market road); the demo's
gateways are the scenario's sites (at most :data:`MAX_SITES`). ``jagajalan demo switch
<scenario>`` restarts the cabinets and their gateways on another scenario; at the end of a
scenario the demo replays it. While it runs the demo keeps ``<dir>/demo.json``
(:mod:`kernel.demo_state`) so that ``--broker-url demo`` finds its broker whatever the port.
Ctrl-C stops everything, newest first, and removes the file. What it prints is in Bahasa
Indonesia by default, English with ``--lang en`` (kernel/messages/demo.toml); commands, URLs
and ids stay as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jagajalan.demo_parts import analytics_argv, prepare_registry, start_alerts
from jagajalan.demo_switch import demo_sites
from kernel.demo_state import DemoState, remove_state, write_state
from kernel.process import die_with_parent
from kernel.text import Said, Text

DEFAULT_SCENARIO = "first_rains"


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
        self.cabinet: list[Child] = []  # devices and gateways of the current scenario
        self.broker = None
        self.scenario = None
        self.gateways: list[str] = []
        self.origin = 0.0  # real time of the scenario's start

    def spawn(self, name: str, *argv: str) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        out = log.open("ab")
        cmd = [sys.executable, "-m", "jagajalan.cli", *argv]
        # Own process group: Ctrl-C in the terminal reaches only the demo, which then stops
        # the children in order. A demo killed outright (SIGKILL, the OOM killer) cannot stop
        # them: the kernel sends them SIGTERM then (die_with_parent; spawn runs on the main
        # thread only), so no gateway, ingest or API stays behind on the demo's ports.
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def start(self) -> None:
        from jagajalan.embedded_broker import EmbeddedBroker, pick_port
        from simulators.scenario.engine import Scenario

        scenario = Scenario.load(self.args.scenario)  # ConfigError: exit 2
        self.dir.mkdir(parents=True, exist_ok=True)
        broker_url = self.args.broker_url
        if not broker_url:
            self.broker = EmbeddedBroker(port=pick_port(1883))
            self.broker.start()
            broker_url = self.broker.url
        self.broker_url = broker_url
        self.registry = prepare_registry(self.dir)  # examples/registry.toml, idempotent
        self.api_port = self.args.api_port or pick_port(8000)
        self.api = f"http://127.0.0.1:{self.api_port}"
        if self.args.influx_url:
            self.store_args = ["--influx-url", self.args.influx_url]
            self.store_desc = f"InfluxDB {self.args.influx_url}"
            self.setup_influx()
        else:
            sqlite = self.dir / "jagajalan.sqlite"
            self.store_args = ["--sqlite", str(sqlite)]
            self.store_desc = f"SQLite {sqlite}"
        ingest = self.spawn("ingest", "ingest", "run", "--broker-url", broker_url, *self.store_args)
        # Gateways start once ingest holds its subscription: the broker keeps QoS 1 messages
        # only for subscribers (or persistent sessions) that already exist.
        self.wait_for(lambda: "subscribed to" in ingest.log.read_text(), 30, "ingest")
        start_alerts(self)  # before the gateways, like ingest
        self.start_cabinet(scenario)
        self.spawn(
            "api",
            "api",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.api_port),
            "--broker-url",
            broker_url,
            # A demo on this machine (127.0.0.1) shows open data: every read without a key.
            "--public-read",
            "all",
            # /sites and /sites/latest (the overview page) read the demo's registry.
            "--registry-db",
            str(self.registry.path),
            *self.store_args,
        )
        self.write_state()

    def setup_influx(self) -> None:
        # As an operator does once: ingest and the API create nothing in InfluxDB. Without
        # admin options this works on an InfluxDB without auth (a local one for the demo).
        log = self.logs / "setup.log"
        self.logs.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "jagajalan.cli", "store", "setup", "--wait", "30"]
        with log.open("ab") as out:
            done = subprocess.run(
                [*cmd, *self.store_args],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
        if done.returncode != 0:
            raise RuntimeError(Said("demo.setup_failed", log=str(log)))

    def start_cabinet(self, scenario) -> None:
        """Emulated devices of the scenario's sites, then a gateway process per site."""
        gateways = demo_sites(scenario)
        if not gateways:
            raise RuntimeError(Said("demo.no_site", name=scenario.name))
        sim_dir = self.dir / "sim"
        ready = self.dir / "devices.ready"
        ready.unlink(missing_ok=True)
        source = scenario.path if scenario.path is not None else scenario.name
        devices = self.spawn(
            "devices",
            "simulate",
            "devices",
            "--dir",
            str(sim_dir),
            "--gateways",
            ",".join(gateways),
            "--devices",
            "all",
            "--scenario",
            str(source),
            "--seed",
            str(self.args.seed),
            "--broker-url",
            self.broker_url,
            "--traffic-interval",
            str(self.traffic_interval(scenario)),
            "--poll-interval",
            "2",
            "--ready-file",
            str(ready),
        )
        self.cabinet = [devices]
        self.wait_for(ready.exists, 30, "devices")
        self.origin = ready.stat().st_mtime  # the scenario clock started just before
        self.scenario, self.gateways = scenario, gateways
        for gw in gateways:
            config = str(sim_dir / f"{gw}.toml")
            self.cabinet.append(self.spawn(f"gateway-{gw}", "gateway", "run", "--config", config))
        # The indicators job on this scenario's clock (restarted with the cabinet).
        job = analytics_argv(self.store_args, scenario, self.origin, self.registry.path)
        self.cabinet.append(self.spawn("analytics", *job))

    @staticmethod
    def traffic_interval(scenario) -> int:
        """About one scenario hour (15 s at 240x), at least 2 s."""
        return max(2, round(3600 / scenario.speed))

    def vehicles_per_hour(self, counted: int) -> float:
        """Vehicles counted in one traffic interval, per scenario hour: the emulated road
        carries as many vehicles per real second as the scenario's road per scenario second
        times the clock speed, so flows the gateway computes in pcu/h run that much fast."""
        scenario_seconds = self.traffic_interval(self.scenario) * self.scenario.speed
        return counted * 3600 / scenario_seconds

    def switch(self, scenario) -> None:
        """Stop the gateways, then the devices, and start the new scenario's cabinet."""
        for child in reversed(self.cabinet):
            self.stop_child(child)
            self.children.remove(child)
        self.cabinet = []
        self.start_cabinet(scenario)
        self.write_state()

    def scenario_time(self, now: float | None = None) -> float:
        sc = self.scenario
        return sc.start + ((time.time() if now is None else now) - self.origin) * sc.speed

    def scenario_ended(self) -> bool:
        return self.scenario_time() >= self.scenario.end

    def write_state(self) -> None:
        state = DemoState(
            pid=os.getpid(),
            broker_url=self.broker_url,
            api_url=self.api,
            dir=str(self.dir),
            scenario=self.scenario.name,
            gateways=list(self.gateways),
            started=self.origin,
        )
        write_state(self.dir, state)

    def wait_for(self, check, timeout: float, what: str) -> None:
        """Wait until *check()*; *what* names the awaited part (``demo.what.<what>``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            self.check_children()
            time.sleep(0.1)
        raise RuntimeError(
            Said(
                "demo.not_up",
                what=Text(f"demo.what.{what}"),
                seconds=f"{timeout:.0f}",
                logs=str(self.logs),
            )
        )

    def check_children(self) -> None:
        for c in self.children:
            code = c.proc.poll()
            if code is not None:
                tail = "".join(c.log.read_text(errors="replace").splitlines(True)[-15:])
                raise RuntimeError(Said("demo.child_exited", name=c.name, code=code), tail)

    @staticmethod
    def stop_child(c: Child) -> None:
        if c.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGTERM)
        try:
            c.proc.wait(15)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()

    def stop(self) -> None:
        """Newest first, one at a time: the API, the gateways (they publish "offline" and keep
        unsent readings in their spools), the devices, ingest (flushes); the state file goes
        first, so no command is sent to a demo that is stopping."""
        remove_state(self.dir, os.getpid())
        for c in sorted(self.children, key=_stop_order):
            self.stop_child(c)
        if self.broker is not None:
            self.broker.stop()


def _stop_order(c: Child) -> int:
    order = {"api": 0, "devices": 2, "ingest": 3}
    return order.get(c.name, 1)  # gateways after the API, before their devices
