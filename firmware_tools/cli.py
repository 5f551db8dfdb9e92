"""`jagajalan firmware ...`: tools for technicians to flash sensor nodes and update gateways.

Each part adds its subcommands to the group: flashing from :mod:`firmware_tools.flash.cli`,
gateway updates from :mod:`firmware_tools.gateway_update.cli`.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from firmware_tools.flash.cli import add_commands as add_flash
    from firmware_tools.gateway_update.cli import add_commands as add_gateway_update

    p = sub.add_parser("firmware", help="flash sensor nodes, update gateways")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_flash(actions)
    add_gateway_update(actions)
