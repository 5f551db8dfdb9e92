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

#: Top-level modules of the ``[server]`` extra (pyproject.toml), which a gateway install lacks;
#: tests/deploy/test_locks.py keeps this list true.
SERVER_MODULES = frozenset(
    {
        "alembic",
        "amqtt",
        "apprise",
        "fastapi",
        "grafana_client",
        "httpcore",
        "httpx",
        "msgspec",
        "numpy",
        "prometheus_client",
        "psycopg",
        "pydantic_settings",
        "sqlalchemy",
        # grafana-client's wheel also installs its tests as a top-level "test" folder (no
        # __init__.py: the standard library's test package, earlier on sys.path, still wins)
        "test",
        "uvicorn",
    }
)

#: Component CLI modules, in the order shown by --help.
COMPONENTS = [
    "gateway.cli",
    "store.cli",
    "registry.cli",
    "ingest.cli",
    "api.cli",
    "indicators.cli",
    "alerts.cli",
    "simulators.cli",
    "dashboards.cli",
    "firmware_tools.cli",
    "jagajalan.demo_cli",
    "jagajalan.stack",
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
        # People's commands (--lang) get the problems in their language; services in English.
        lang = getattr(args, "lang", None)
        print(exc.render_in(lang) if lang else exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        if module not in SERVER_MODULES:
            raise
        from kernel.text import default_lang, tr

        text = tr("cli.needs_server", default_lang(), component=args.component, module=module)
        print(text, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
