"""The ``jagajalan demo`` command line: its options, ``demo switch``, and the foreground loop
that starts the chain (:class:`jagajalan.demo.Demo`), prints its story and status every five
seconds, switches or replays the scenario, and stops everything on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

from jagajalan.demo import DEFAULT_SCENARIO, Demo
from jagajalan.demo_switch import cmd_switch, demo_sites, take_switch_request
from kernel.signals import install_stop
from kernel.text import LANGS, Text, default_lang, said


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
