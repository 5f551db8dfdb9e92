"""``jagajalan registry key create|list|revoke``: the API's keys (registry/keys.py).

``create`` prints the whole key once, on the standard output alone (to pipe it into a
file); what it means goes to the standard error. ``list`` never shows a secret nor a hash.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from registry.roles import ROLES


def register(action: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Adds ``key ACTION`` through the registry's *action* maker (its database options)."""
    create = action("create", "make an API key (its secret is shown once)")
    create.add_argument("--role", required=True, choices=ROLES, help="viewer, operator or admin")
    create.add_argument("--name", help="a name for the key (default key-<prefix>)")
    create.add_argument("--contact", help="the registry contact the key belongs to")
    create.set_defaults(func=create_command)
    action("list", "list the API keys (never their secrets)").set_defaults(func=list_command)
    revoke = action("revoke", "revoke an API key: the API refuses it from then on")
    revoke.add_argument("prefix", metavar="PREFIX", help="the key's prefix (or its name)")
    revoke.set_defaults(func=revoke_command)


def _problem(args: argparse.Namespace, exc: Any) -> int:
    from registry.cli import EXIT_CONFIG, _say

    _say(args.lang, exc.key, True, **exc.args_)
    return EXIT_CONFIG


def create_command(args: argparse.Namespace) -> int:
    from registry import keys
    from registry.cli import EXIT_DB, EXIT_OK, _engine, _say

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    try:
        info, whole = keys.create(engine, args.role, args.name, args.contact)
    except keys.KeyProblem as exc:
        return _problem(args, exc)
    _say(args.lang, "registry.key.created", True, name=info.id, prefix=info.prefix, role=info.role)
    print(whole)
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.tables import print_table
    from kernel.text import tr
    from registry import keys
    from registry.cli import EXIT_DB, EXIT_OK, _engine

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    found = keys.all_keys(engine)
    columns = ("prefix", "name", "role", "contact", "created", "revoked")
    headers = [tr(f"registry.key.col.{c}", args.lang) for c in columns]
    rows = [
        [
            k.prefix,
            k.id,
            k.role,
            k.contact or "-",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-",
        ]
        for k in found
    ]
    title = tr("registry.key.list_title", args.lang, n=len(rows))
    print_table(Console(highlight=False), title, headers, rows)
    return EXIT_OK


def revoke_command(args: argparse.Namespace) -> int:
    from registry import keys
    from registry.cli import EXIT_DB, EXIT_OK, _engine, _say

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    try:
        info = keys.revoke(engine, args.prefix)
    except keys.KeyProblem as exc:
        return _problem(args, exc)
    _say(args.lang, "registry.key.revoked", name=info.id, prefix=info.prefix)
    return EXIT_OK
