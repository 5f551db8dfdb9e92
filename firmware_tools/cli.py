"""`jagajalan firmware ...`: the firmware tools' command group.

Each part adds its subcommands to the group: gateway updates from
:mod:`firmware_tools.gateway_update.cli`.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from firmware_tools.gateway_update.cli import add_commands as add_gateway_update

    p = sub.add_parser("firmware", help="firmware: gateway updates")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_gateway_update(actions)
