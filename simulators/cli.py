"""`jagajalan simulate ...`: emulated devices on pseudo-terminals (fleets come later)."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

DEFAULT_GATEWAYS = "srl-pasar-01,srl-pauh-01"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="emulate devices and fleets without hardware")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = actions.add_parser(
        "devices",
        help="emulate each gateway's serial devices on pseudo-terminals",
        description=(
            "Start emulated serial devices (Modbus RTU particulate sensor, traffic counter) on "
            "pseudo-terminals and write a matching gateway config per gateway. Runs until "
            "Ctrl-C. Point `jagajalan gateway run --config <dir>/<gateway>.toml` at it."
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
        default=os.environ.get("JAGAJALAN_BROKER_URL", "mqtt://127.0.0.1:1883"),
        help="broker URL written into the generated gateway configs",
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
    d.set_defaults(func=cmd_devices)


def cmd_devices(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from simulators.devices import DeviceOptions, start_gateway_devices, stop_gateway_devices
    from simulators.sites import site
    from simulators.truth import TruthWriter

    console = Console(stderr=True)
    try:
        sites = [site(g.strip()) for g in args.gateways.split(",") if g.strip()]
    except KeyError as exc:
        console.print(f"[red]error:[/red] {exc.args[0]}")
        return 2
    opts = DeviceOptions(
        seed=args.seed,
        poll_interval=args.poll_interval,
        traffic_interval=args.traffic_interval,
        vehicles_per_minute=args.vehicles_per_minute,
        broker_url=args.broker_url,
    )
    truth = TruthWriter(args.truth)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running = []
    try:
        for s in sites:
            running.append(start_gateway_devices(s, args.dir, opts, truth))
        table = Table(title="Emulated devices (gateway side opens these paths)")
        for col in ("gateway", "site", "device", "path", "config"):
            table.add_column(col)
        for gw in running:
            for dev_id, link in gw.links.items():
                table.add_row(gw.site.gateway, gw.site.name, dev_id, link.path, str(gw.config_path))
        console.print(table)
        console.print(
            "Run a gateway against them with: jagajalan gateway run --config "
            f"{running[0].config_path}\nCtrl-C stops the devices."
        )
        if args.ready_file:
            args.ready_file.write_text("ready\n")
        stop.wait()
    finally:
        for gw in running:
            stop_gateway_devices(gw)
        truth.close()
    return 0
