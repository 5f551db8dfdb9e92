"""`jagajalan firmware ...`: tools for technicians: sensor nodes, signed bundles, gateway updates.

Each part adds its subcommands to the group: flashing from :mod:`firmware_tools.flash.cli`,
signed bundles (``keygen``, ``package``, ``verify``) from :mod:`firmware_tools.bundle_cli`, a
Modbus node's settings (``node get|set``) from :mod:`firmware_tools.node.command`, gateway
updates from :mod:`firmware_tools.gateway_update.cli`, staged rollouts over the fleet
(``rollout``) from :mod:`firmware_tools.rollout.cli`.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from firmware_tools.bundle_cli import add_commands as add_bundle
    from firmware_tools.flash.cli import add_commands as add_flash
    from firmware_tools.gateway_update.cli import add_commands as add_gateway_update
    from firmware_tools.node.command import register_node
    from firmware_tools.rollout.cli import add_commands as add_rollout

    p = sub.add_parser(
        "firmware", help="configure and flash sensor nodes, signed bundles, update gateways"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_flash(actions)
    add_bundle(actions)
    register_node(actions)
    add_gateway_update(actions)
    add_rollout(actions)
