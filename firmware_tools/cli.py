"""`jagajalan firmware ...`: tools for technicians to configure and flash sensor nodes.

Each part adds its subcommands to the group: flashing from :mod:`firmware_tools.flash.cli`.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from firmware_tools.flash.cli import add_commands as add_flash

    p = sub.add_parser("firmware", help="configure and flash sensor nodes")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_flash(actions)
