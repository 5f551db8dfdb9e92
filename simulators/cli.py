"""`jagajalan simulate ...`: emulated devices on pseudo-terminals, scenarios, fleets.

``devices``: serial devices of gateways on pseudo-terminals (optionally with a scenario clock
running alongside); ``scenario``: run a scenario, write its ground truth, check its expected
threshold crossings; ``fleet``: many gateways publishing real batches to a broker (load).
The scenario and fleet commands live in :mod:`simulators.commands`.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from kernel.signals import install_stop

DEFAULT_GATEWAYS = "srl-pasar-01,srl-pauh-01"


def register(sub: argparse._SubParsersAction) -> None:
    from kernel.text import LANGS, default_lang

    p = sub.add_parser("simulate", help="emulate devices and fleets without hardware")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = actions.add_parser(
        "devices",
        help="emulate each gateway's serial devices on pseudo-terminals",
        description=(
            "Start emulated serial devices (Modbus RTU sensors, traffic counter, and with "
            "--devices all a weather station and a GPS) on pseudo-terminals and write a "
            "matching gateway config per gateway; optionally driven by a scenario and with "
            "injected faults. Runs until Ctrl-C. Point `jagajalan gateway run --config "
            "<dir>/<gateway>.toml` at it."
        ),
    )
    d.add_argument(
        "--dir",
        type=Path,
        default=Path("var/sim"),
        help="where device paths and gateway configs are created (default: var/sim)",
    )
    d.add_argument(
        "--gateways",
        default=DEFAULT_GATEWAYS,
        help=f"comma-separated gateway ids of simulated sites (default: {DEFAULT_GATEWAYS})",
    )
    d.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    d.add_argument(
        "--broker-url",
        default=None,
        help="broker URL written into the generated gateway configs; 'demo': the running "
        "demo's broker (default: $JAGAJALAN_BROKER_URL, else the running demo's broker, else "
        "mqtt://127.0.0.1:1883)",
    )
    d.add_argument(
        "--traffic-interval",
        type=int,
        default=60,
        help="traffic aggregation interval in the generated configs, seconds",
    )
    d.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="Modbus poll interval in the generated configs, seconds",
    )
    d.add_argument(
        "--vehicles-per-minute", type=float, default=30.0, help="mean vehicles per minute per lane"
    )
    d.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="write every generated value to this JSONL file (ground truth)",
    )
    d.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="create this file once every device is up (for scripts)",
    )
    d.add_argument(
        "--scenario",
        default=None,
        help="run this scenario (name or file) on its clock alongside the devices and record "
        "its values in --truth",
    )
    d.add_argument(
        "--speed", type=float, default=None, help="scenario clock speed (default: the file's)"
    )
    d.add_argument(
        "--devices",
        choices=("basic", "all"),
        default="basic",
        help="basic: Modbus env1 and traffic counter cnt1 (default); all: every device kind "
        "(five Modbus sensors on one RS-485 line, traffic counter, weather station, GPS)",
    )
    d.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. env1:crc_error@30s+10s or gps1:clock_drift=45@1m+2m "
        "(<device>:<kind>[=<arg>]@<start>+<duration>; repeatable; see docs/simulators.md)",
    )
    d.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="LINE=BAUD[,FRAME]",
        help="serial settings of an emulated line, e.g. env1=19200,8E1 (repeatable; lines: "
        "env1, cnt1 with basic; rs485, cnt1, wx1, gps1 with all). Default: the device type's "
        "usual settings (9600 8N1; weather station 19200 8N1). The devices answer only a "
        "gateway set that way; the generated config says so",
    )
    d.add_argument("--lang", choices=LANGS, default=default_lang(), help="id (default) or en")
    d.set_defaults(func=cmd_devices)

    from simulators.commands import register_fleet, register_scenario

    register_scenario(actions)
    register_fleet(actions)


def cmd_devices(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.demo_state import NoDemo, resolve_broker_url
    from kernel.tables import print_table
    from kernel.text import T, said, tr
    from simulators.devices.cabinet import (
        DeviceOptions,
        device_ids,
        parse_line_option,
        start_gateway_devices,
        stop_gateway_devices,
        unknown_fault_devices,
    )
    from simulators.devices.faults import faults_from_table, parse_fault
    from simulators.scenario.engine import Scenario
    from simulators.scenario.run import ScenarioRunner
    from simulators.sites import site
    from simulators.truth import TruthWriter

    lang = args.lang
    console = Console(stderr=True, highlight=False)
    try:
        sites = [site(g.strip()) for g in args.gateways.split(",") if g.strip()]
    except KeyError as exc:
        _error(console, lang, unknown_gateway(str(exc.args[1]) if len(exc.args) > 1 else ""))
        return 2
    try:
        args.broker_url, notice = resolve_broker_url(args.broker_url)
    except NoDemo as exc:
        _error(console, lang, said(exc.args[0]))
        return 2
    if notice:
        console.print(said(notice).render(lang), markup=False, soft_wrap=True)
    scenario = Scenario.load(args.scenario) if args.scenario else None  # ConfigError: exit 2
    try:
        lines = dict(parse_line_option(text, args.devices) for text in args.line)
        faults = [parse_fault(text) for text in args.fault]
        gateways = [s.gateway for s in sites]
        unknown = unknown_fault_devices(faults, gateways, args.devices)
        if scenario is not None:  # a scenario's faults on devices not emulated are skipped
            planned = faults_from_table(scenario.file.faults)
            skip = set(unknown_fault_devices(planned, gateways, args.devices))
            faults += [f for f in planned if f.device not in skip]
        if unknown:
            raise ValueError(
                f"faults on unknown devices {unknown}; known: {device_ids(args.devices)}"
            )
    except ValueError as exc:
        _error(console, lang, T("problem.other", text=str(exc)))
        return 2
    opts = DeviceOptions(
        seed=args.seed,
        poll_interval=args.poll_interval,
        traffic_interval=args.traffic_interval,
        vehicles_per_minute=args.vehicles_per_minute,
        broker_url=args.broker_url,
        devices=args.devices,
        faults=faults,
        lines=lines,
    )
    truth = TruthWriter(args.truth)
    stop = threading.Event()
    restore_signals = install_stop(stop)
    running = []
    runner: ScenarioRunner | None = None
    try:
        if scenario is not None:
            clock = scenario.clock(args.speed)
            runner = ScenarioRunner(scenario, clock=clock, truth=truth).start()
            opts.scenario, opts.scenario_clock = scenario, clock
            speed = f"{clock.speed:g}"
            text = tr("simulate.devices.scenario", lang, name=scenario.name, speed=speed)
            console.print(text, soft_wrap=True)
        opts.origin = None if scenario is not None else time.time()
        for s in sites:
            running.append(start_gateway_devices(s, args.dir, opts, truth))
        headers = [tr(f"simulate.devices.col.{c}", lang) for c in DEVICE_COLUMNS]
        rows = [
            (gw.site.gateway, gw.site.name, dev_id, link.path, str(gw.config_path))
            for gw in running
            for dev_id, link in gw.ports.items()
        ]
        print_table(console, tr("simulate.devices.title", lang), headers, rows)
        command = f"jagajalan gateway run --config {running[0].config_path}"
        console.print(tr("simulate.devices.run", lang, command=command), soft_wrap=True)
        console.print(tr("simulate.devices.stop", lang), soft_wrap=True)
        if args.ready_file:
            args.ready_file.write_text("ready\n")
        stop.wait()
    finally:
        if runner is not None:
            runner.stop()
        for gw in running:
            stop_gateway_devices(gw)
        truth.close()
        restore_signals()
    return 0


DEVICE_COLUMNS = ("gateway", "site", "device", "path", "config")


def unknown_gateway(gateway: str):
    """No simulated site for *gateway*: the known ones, and the closest ("did you mean")."""
    import difflib

    from kernel.text import T
    from simulators.sites import SITES

    known = [s.gateway for s in SITES]
    close = difflib.get_close_matches(gateway, known, n=1)
    shown = ", ".join(known)
    if close:
        return T("simulate.err.gateway_close", gateway=gateway, close=close[0], known=shown)
    return T("simulate.err.gateway", gateway=gateway, known=shown)


def _error(console, lang: str, text) -> None:
    from kernel.text import tr

    console.print(tr("simulate.error", lang, problem=text), markup=False, soft_wrap=True)
