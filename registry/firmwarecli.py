"""``jagajalan registry firmware set|clear|list``: the firmware the sensor nodes of each sensor
profile should run (registry/desired.py). ``GET /releases`` and the overview page list the
nodes whose gateway reports another firmware, or none.

``set PROFILE VERSION`` refuses a version that is no version (letters, digits and ``._+-``, at
most 64) and a profile no registered sensor has (a typo would otherwise match no node and
show nothing behind), naming the profiles the registry knows.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")


def register(action: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Adds ``firmware ACTION`` through the registry's *action* maker (its database options)."""
    put = action("set", "the firmware version the nodes of a sensor profile should run")
    put.add_argument("profile", metavar="PROFILE", help="a sensor profile (sensors' profile)")
    put.add_argument("version", metavar="VERSION", help="the node firmware version, e.g. WL-2.08")
    put.set_defaults(func=set_command)
    clear = action("clear", "no desired firmware for a sensor profile any more")
    clear.add_argument("profile", metavar="PROFILE")
    clear.set_defaults(func=clear_command)
    action("list", "the desired firmware per sensor profile").set_defaults(func=list_command)


def set_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from registry.cli import EXIT_CONFIG, EXIT_DB, EXIT_OK, _engine, _say
    from registry.desired import set_firmware
    from registry.models import Sensor

    if not VERSION.fullmatch(args.version):
        _say(args.lang, "registry.firmware.bad_version", True, version=args.version)
        return EXIT_CONFIG
    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    with engine.connect() as connection:
        profiles = connection.execute(select(Sensor.profile).distinct()).scalars().all()
        nodes = connection.execute(select(Sensor.id).where(Sensor.profile == args.profile)).all()
    if not nodes:
        known = ", ".join(sorted(p for p in profiles if p)) or "-"
        _say(args.lang, "registry.firmware.no_sensor", True, profile=args.profile, known=known)
        return EXIT_CONFIG
    set_firmware(engine, args.profile, args.version)
    _say(
        args.lang, "registry.firmware.set", profile=args.profile, version=args.version, n=len(nodes)
    )
    return EXIT_OK


def clear_command(args: argparse.Namespace) -> int:
    from registry.cli import EXIT_DB, EXIT_OK, _engine, _say
    from registry.desired import clear_firmware

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    key = "cleared" if clear_firmware(engine, args.profile) else "none"
    _say(args.lang, f"registry.firmware.{key}", profile=args.profile)
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.tables import print_table
    from kernel.text import tr
    from kernel.times import wib_iso
    from registry.cli import EXIT_DB, EXIT_OK, _engine
    from registry.desired import desired_firmware

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    wanted, nodes = desired_firmware(engine)
    count = {w.profile: sum(1 for n in nodes if n.profile == w.profile) for w in wanted}
    headers = [
        tr(f"registry.firmware.col.{c}", args.lang)
        for c in ("profile", "version", "nodes", "set_at")
    ]
    rows = [
        [
            w.profile,
            w.version,
            str(count[w.profile]),
            wib_iso(int(w.set_at.timestamp() * 1000)) or "-",
        ]
        for w in wanted
    ]
    title = tr("registry.firmware.title", args.lang, n=len(rows))
    print_table(Console(highlight=False), title, headers, rows)
    return EXIT_OK
