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
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jagajalan.demo_parts import analytics_argv, prepare_registry, start_alerts
from jagajalan.demo_switch import cmd_switch, demo_sites, take_switch_request
from kernel.demo_state import DemoState, remove_state, write_state
from kernel.signals import install_stop
from kernel.text import LANGS, Said, Text, default_lang, said

DEFAULT_SCENARIO = "first_rains"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole chain on this machine (embedded broker and store by default)",
        description=(
            "Runs emulated roadside cabinets driven by a scenario, their gateways, ingest, "
            "the indicators job (`analytics run` on the scenario's clock), the alerts "
            "service (`alerts run`, examples/alerts-demo.toml) and the API "
            "(http://127.0.0.1:8000, or a free port when it is taken), with the example "
            "registry (examples/registry.toml) in --dir. Uses a real "
            "broker or InfluxDB when JAGAJALAN_BROKER_URL / JAGAJALAN_INFLUX_URL (or the options) "
            "are set. Ctrl-C stops everything. `jagajalan demo switch <scenario>` changes the "
            "scenario while it runs."
        ),
    )
    p.add_argument("--dir", type=Path, default=Path("var/demo"), help="working directory")
    p.add_argument(
        "--lang", choices=LANGS, default=default_lang(), help="language of the output: id or en"
    )
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
    p.add_argument(
        "--api-port",
        type=int,
        default=None,
        help="API port (default: 8000, or a free port when 8000 is taken)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the emulated devices")
    p.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"scenario driving the emulated devices (default: {DEFAULT_SCENARIO}; "
        "`jagajalan simulate scenario --list` lists them)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds (default: run until Ctrl-C)",
    )
    p.set_defaults(func=cmd_demo)
    actions = p.add_subparsers(dest="demo_action", metavar="ACTION")
    s = actions.add_parser(
        "switch",
        help="make the running demo play another scenario",
        description="Restart the running demo's emulated cabinets and gateways on another "
        "scenario, from its beginning. Exit 0 once the demo runs it, 1 when no demo runs "
        "or it did not switch in time, 2 for a scenario that does not exist.",
    )
    s.add_argument("scenario", help="scenario name or file")
    s.add_argument("--dir", type=Path, default=Path("var/demo"), help="the demo's --dir")
    s.add_argument("--timeout", type=float, default=90.0, help="seconds to wait (default 90)")
    s.add_argument(
        "--lang", choices=LANGS, default=default_lang(), help="language of the output: id or en"
    )
    s.set_defaults(func=cmd_switch)


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
        # the children in order.
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True
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


def problem_of(exc: RuntimeError) -> Text:
    """The demo's own failures carry catalogue text (:class:`kernel.text.Said`); anything
    else is quoted as a technical detail."""
    return said(exc.args[0] if exc.args else exc)


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from jagajalan.demo_status import StatusBoard, banner
    from kernel.config import ConfigError
    from kernel.text import tr
    from simulators.scenario.engine import Scenario

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    lang = args.lang
    demo = Demo(args)
    stop = threading.Event()
    restore_signals = install_stop(stop)
    code = 0
    try:
        demo.start()
        console.print(banner(demo, lang))
        board = StatusBoard(demo.api, lang)
        started = time.monotonic()
        next_status = started + 5
        while not stop.wait(1):
            demo.check_children()
            request = take_switch_request(demo.dir)
            if request is not None:
                try:
                    scenario = Scenario.load(request)
                except ConfigError as exc:
                    console.print(
                        f"[red]{tr('demo.cannot_switch', lang, problem=exc.render_in(lang))}[/red]"
                    )
                    continue
                if not demo_sites(scenario):
                    problem = tr("demo.no_site", lang, name=scenario.name)
                    console.print(f"[red]{tr('demo.cannot_switch', lang, problem=problem)}[/red]")
                else:
                    console.print(tr("demo.switching", lang, name=scenario.name))
                    demo.switch(scenario)
                    console.print(board.scenario_line(demo, switched=True))
            elif demo.scenario_ended():
                console.print(tr("demo.replay", lang, name=demo.scenario.name))
                demo.switch(demo.scenario)
            if time.monotonic() >= next_status:
                next_status += 5
                for line in board.update(demo):
                    console.print(line)
            if args.duration and time.monotonic() - started >= args.duration:
                break
    except RuntimeError as exc:
        console.print(f"[red]{tr('demo.failed', lang, problem=problem_of(exc))}[/red]")
        for detail in exc.args[1:]:  # a child's last log lines, as they are
            console.print(detail, markup=False)
        code = 1
    finally:
        console.print(tr("demo.stopping", lang))
        demo.stop()
        restore_signals()
    return code
