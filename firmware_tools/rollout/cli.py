"""``jagajalan firmware rollout BUNDLE``: send a signed gateway release to the fleet, group by
group, and stop by itself when too many gateways of a group fail (docs/firmware.md, "Rollouts
across the fleet").

The bundle is checked first (its signature with the secret key's public half, as a gateway
will). The groups come from the registry: ``--pilot`` gateways first, then the kecamatan of
``--order``, then the others. Each gateway of the current group gets a desired-version
command signed with ``--secret-key`` (docs/protocol.md, 1.1), retained on its ``cmd`` topic; it
is ``updated`` once its status shows the version online, ``failed`` when its status reports the
update rolled back or refused, or nothing within ``--deadline`` seconds. Past
``--max-failures`` (a fraction of a group) the rollout halts, withdraws the commands of the
gateways that did not update, and commands no further group. One line per gateway and group.

Exit codes: 0 every group updated (or ``--dry-run``); 1 halted at the threshold, or
``--timeout`` passed first; 2 a mistake in the options, the bundle, the key or the groups;
3 the registry or the broker cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

EXIT_OK, EXIT_HALTED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text}: a fraction of a group, 0 <= x < 1")
    return value


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
    return value


def add_commands(actions: argparse._SubParsersAction) -> None:
    from firmware_tools.rollout.settings import RolloutSettings
    from kernel.settings import add_options
    from kernel.text import LANGS, default_lang

    p = actions.add_parser(
        "rollout",
        help="send a signed gateway release to the fleet group by group; halts on failures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bundle", type=Path, help="the gateway bundle (.jjfw, .minisig beside it)")
    p.add_argument(
        "--bundle-url",
        required=True,
        help="where gateways fetch the bundle: http(s) URL, or a path on the gateways",
    )
    p.add_argument("--secret-key", type=Path, required=True, help="the firmware secret key")
    p.add_argument("--password-file", type=Path, help="first line: the key's password")
    p.add_argument("--pilot", action="append", default=[], metavar="GATEWAY", help="repeatable")
    p.add_argument("--order", default="", help="kecamatan first, comma separated")
    p.add_argument("--max-failures", type=fraction, default=0.2, help="of a group (0.2)")
    p.add_argument("--deadline", type=positive, default=900.0, help="per gateway, s (900)")
    p.add_argument("--timeout", type=positive, default=86400.0, help="whole rollout, s (86400)")
    p.add_argument("--valid-hours", type=positive, default=72.0, help="command expiry (72)")
    p.add_argument("--rollout-id", help="default: <version>-<UTC time>")
    p.add_argument("--dry-run", action="store_true", help="print the groups, send nothing")
    p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    add_options(p, RolloutSettings)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import logging

    from firmware_tools.rollout import launch
    from kernel.text import TextError, said

    if getattr(args, "log_level", "INFO") != "DEBUG":  # the lines below say it, in args.lang
        logging.getLogger("firmware_tools.rollout").setLevel(logging.ERROR)

    try:
        prepared = launch.prepare(args)
    except TextError as exc:
        print(said(exc).render(args.lang), file=sys.stderr)
        return EXIT_UNREACHABLE if exc.text.key.startswith("rollout.err.reach") else EXIT_USAGE
    if args.dry_run:
        return EXIT_OK
    try:
        return launch.run(prepared, args)
    except TextError as exc:
        print(said(exc).render(args.lang), file=sys.stderr)
        return EXIT_UNREACHABLE


def rollout_id(version: str) -> str:
    return f"{version}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def now_ms() -> int:
    return int(time.time() * 1000)


def client_id(username: str | None) -> str:
    return f"{username or 'rollout'}.{os.getpid()}"
