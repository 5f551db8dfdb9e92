"""``jagajalan firmware node get|set``: a Modbus sensor node's own settings.

``get`` lists every setting of the node's profile (``[settings]``, docs/protocol.md 5.2) as
read from the node; ``set NAME=VALUE ...`` checks every value against the profile first (a
bad one: nothing is written, exit 2), then writes and reads back each one (exit 1 if the node
does not answer, refuses, or reads back something else). A new unit address is read back at
the new address; a new baud rate takes effect when the node restarts.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register_node(actions: argparse._SubParsersAction) -> None:
    from kernel.text import LANGS, default_lang

    node = actions.add_parser(
        "node",
        help="read or change a Modbus sensor node's settings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = node.add_subparsers(dest="node_action", metavar="ACTION", required=True)
    for name, help_ in (("get", "read the node's settings"), ("set", "change settings")):
        p = sub.add_parser(
            name,
            help=help_,
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
        p.add_argument("--unit", type=int, default=1, help="the node's unit address now")
        p.add_argument("--profile", required=True, help="profile name or .toml path")
        p.add_argument("--baudrate", type=int, default=9600, help="the line's speed now")
        p.add_argument("--parity", choices=["N", "E", "O"], default="N")
        p.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
        p.add_argument("--timeout", type=float, default=1.0, help="seconds per answer")
        p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
        if name == "get":
            p.add_argument("--json", action="store_true", help="one JSON object")
            p.set_defaults(func=get_command)
        else:
            p.add_argument("assignments", nargs="+", metavar="NAME=VALUE")
            p.set_defaults(func=set_command)


def _line(args: argparse.Namespace):
    from firmware_tools.node.client import Line

    return Line(args.port, args.unit, args.baudrate, args.parity, args.stopbits, args.timeout)


def get_command(args: argparse.Namespace) -> int:
    from firmware_tools.node.client import NodeError, connect, read_all
    from firmware_tools.node.profile import load_node_profile
    from kernel.text import T, TextError
    from telemetry.node_settings import shown

    try:
        profile = load_node_profile(args.profile)
    except TextError as exc:
        print(exc.text.render(args.lang), file=sys.stderr)
        return EXIT_USAGE
    line = _line(args)
    try:
        with connect(line) as client:
            raw = read_all(client, line, profile)
    except NodeError as exc:
        print(exc.text.render(args.lang), file=sys.stderr)
        return EXIT_FAILED
    values = {n: shown(profile.settings[n], r) for n, r in raw.items()}
    if args.json:
        print(json.dumps({"profile": profile.model, "unit": args.unit, "settings": values}))
        return EXIT_OK
    print(
        T("node.get.header", profile=profile.model, port=args.port, unit=args.unit).render(
            args.lang
        )
    )
    for name, value in values.items():
        s = profile.settings[name]
        limits = ", ".join(s.choices) if s.choices else f"{s.range[0]:g}..{s.range[1]:g}"
        print(f"  {name:<22} {value:>8} {s.unit:<6} [{limits}]")
    return EXIT_OK


def set_command(args: argparse.Namespace) -> int:
    from firmware_tools.node.client import NodeError, apply_changes, connect, plan_changes
    from firmware_tools.node.profile import load_node_profile
    from kernel.text import T, TextError
    from telemetry.node_settings import shown

    try:
        profile = load_node_profile(args.profile)
        changes = plan_changes(profile, args.assignments)
    except TextError as exc:
        print(exc.text.render(args.lang), file=sys.stderr)
        return EXIT_USAGE
    line = _line(args)
    try:
        with connect(line) as client:
            done = apply_changes(client, line, changes)
    except NodeError as exc:
        print(exc.text.render(args.lang), file=sys.stderr)
        return EXIT_FAILED
    for d in done:
        new = shown(d.setting, d.new)
        key = "node.set.same" if d.old == d.new else "node.set.done"
        old = shown(d.setting, d.old)
        with_unit = f"{new} {d.setting.unit}".strip()
        print(T(key, name=d.name, old=old, new=with_unit).render(args.lang))
        if d.old != d.new and d.setting.role == "unit_address":
            print(T("node.set.moved", unit=d.new, unit_old=d.old).render(args.lang))
        if d.old != d.new and d.setting.role == "baud_rate":
            print(T("node.set.baud_later", baud=new).render(args.lang))
    return EXIT_OK
