"""The one console command: ``jagajalan <component> <action> [options]``.

Each component registers its own subcommands through a ``register(subparsers)`` function in
its ``cli`` module; this module only assembles them. Heavy imports happen inside the command
functions so that ``jagajalan --help`` stays fast on a small gateway.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kernel import __version__
from kernel.config import ConfigError
from kernel.logs import setup_logging

#: Component CLI modules, in the order shown by --help.
COMPONENTS = [
    "gateway.cli",
    "store.cli",
    "ingest.cli",
    "api.cli",
    "simulators.cli",
    "jagajalan.demo",
    "jagajalan.configdoc",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jagajalan",
        description="JagaJalan road and environment sensing: gateway, ingest, API, simulators.",
    )
    parser.add_argument("--version", action="version", version=f"jagajalan {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    sub = parser.add_subparsers(dest="component", metavar="COMPONENT", required=True)
    for name in COMPONENTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
