"""``jagajalan registry``: the registry of sites, gateways, sensors and contacts.

  init / upgrade     create the database or bring it to the newest schema (migrations)
  import PATH        bring the registry to what a TOML file, or a folder of CSV files (one
                     per table), holds (idempotent; prints what changed; --prune also
                     removes what the file does not hold; --dry-run)
  export PATH        write the whole registry as TOML (``-``: to the standard output), or
                     with --format csv as one CSV file per table in the folder PATH
  credentials GW     a registered gateway's MQTT password: its Mosquitto password entry,
                     the password file for the gateway, its config's [mqtt] table
  list WHAT          sites, gateways or sensors as a table
  key create|list|revoke
                     the API's keys: made with a role (viewer, operator, admin; the secret
                     is printed once), listed (never a secret), revoked by prefix

The database: an SQLite file (``--registry-db``, default ``var/registry.sqlite3``) or
PostgreSQL (``--registry-url``, ``--registry-username``, ``--registry-password-file``); every
option also from ``JAGAJALAN_<OPTION>``. Output in Bahasa Indonesia, ``--lang en`` English.

Exit codes: 0 done; 2 a mistake in the file or the options (every problem named: file, key,
value); 3 the database cannot be reached or is not migrated yet (run ``registry upgrade``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_OK, EXIT_CONFIG, EXIT_DB = 0, 2, 3
LISTS = ("sites", "gateways", "sensors")


def register(sub: argparse._SubParsersAction) -> None:
    from kernel.settings import add_options
    from kernel.text import LANGS, default_lang
    from registry.settings import RegistrySettings

    parser = sub.add_parser(
        "registry",
        help="the registry of sites, gateways, sensors and contacts (SQLite or PostgreSQL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str, within: Any = actions) -> argparse.ArgumentParser:
        p = within.add_parser(name, help=text, description=text)
        add_options(p, RegistrySettings)
        p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id (default) or en")
        return p

    action("init", "create the registry's database (runs the migrations)").set_defaults(
        func=upgrade_command
    )
    action("upgrade", "bring the database to the newest schema").set_defaults(func=upgrade_command)
    imp = action("import", "bring the registry to what a TOML file or CSV folder holds")
    imp.add_argument(
        "file",
        metavar="PATH",
        help="the registry as TOML (examples/registry.toml), or a folder of CSV files",
    )
    imp.add_argument("--prune", action="store_true", help="also remove what the file does not hold")
    imp.add_argument("--dry-run", action="store_true", help="show the changes, make none")
    imp.set_defaults(func=import_command)
    exp = action("export", "write the whole registry as TOML or CSV")
    exp.add_argument(
        "file", metavar="PATH", help="where to write it; - for standard output; csv: a folder"
    )
    exp.add_argument(
        "--format",
        choices=("toml", "csv"),
        default="toml",
        help="toml (default): one file; csv: sites.csv, gateways.csv, sensors.csv, contacts.csv",
    )
    exp.set_defaults(func=export_command)
    cred = action(
        "credentials",
        "issue a registered gateway's MQTT password: its Mosquitto password entry, the "
        "password file for the gateway and its config's [gateway] and [mqtt] tables",
    )
    cred.add_argument("gateway", metavar="GATEWAY", help="a registered gateway's id")
    cred.add_argument(
        "--mosquitto-passwd",
        required=True,
        metavar="FILE",
        help="Mosquitto's password file: the gateway's entry is added or replaced",
    )
    cred.add_argument(
        "--password-out",
        required=True,
        metavar="FILE",
        help="where to write the new password (mode 600), to copy to the gateway",
    )
    cred.add_argument(
        "--broker-url", required=True, help="the broker as the gateway reaches it (mqtts://...)"
    )
    cred.add_argument(
        "--gateway-password-path",
        default="/etc/jagajalan/mqtt-password",
        help="where the password file goes on the gateway (default /etc/jagajalan/mqtt-password)",
    )
    cred.set_defaults(func=credentials_command)
    lst = action("list", "list sites, gateways or sensors")
    lst.add_argument("what", choices=LISTS)
    lst.set_defaults(func=list_command)
    from registry import keycli

    key = actions.add_parser("key", help="the API's keys: create, list, revoke")
    keys = key.add_subparsers(dest="key_action", metavar="ACTION", required=True)
    keycli.register(lambda name, text: action(name, text, keys))
    from registry import firmwarecli

    fw = actions.add_parser("firmware", help="desired sensor node firmware per sensor profile")
    firmwares = fw.add_subparsers(dest="firmware_action", metavar="ACTION", required=True)
    firmwarecli.register(lambda name, text: action(name, text, firmwares))


def _say(lang: str, key: str, err: bool = False, **args: Any) -> None:
    from kernel.text import tr

    print(tr(key, lang, **args), file=sys.stderr if err else sys.stdout)  # type: ignore[arg-type]


def _engine(args: argparse.Namespace, migrated: bool = True) -> Any:
    """The engine (None, reported, when the database is unreachable or, if *migrated*, not
    at the newest schema)."""
    import logging

    if getattr(args, "log_level", "INFO") != "DEBUG":  # Alembic says every step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)

    from sqlalchemy.exc import SQLAlchemyError

    from kernel.settings import load
    from registry import db
    from registry.settings import RegistrySettings

    settings = load(RegistrySettings, args, os.environ)  # SettingsError: exit 2
    url = settings.database_url()
    where = url.render_as_string(hide_password=True)
    if migrated and settings.registry_url is None and not settings.registry_db.exists():
        _say(args.lang, "registry.err.not_migrated", True, url=where)  # not created by a look
        return None
    engine = db.engine_for(url)
    try:
        revision = db.current(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _say(args.lang, "registry.err.db", True, url=where, reason=reason)
        return None
    if migrated and revision != db.head():
        _say(args.lang, "registry.err.not_migrated", True, url=where)
        return None
    return engine


def upgrade_command(args: argparse.Namespace) -> int:
    engine = _engine(args, migrated=False)
    if engine is None:
        return EXIT_DB
    from registry import db

    before, after = db.upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        _say(args.lang, "registry.upgrade.current", url=where, revision=after)
    else:
        _say(args.lang, "registry.upgrade.done", url=where, before=before or "-", after=after)
    return EXIT_OK


def import_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kernel.config import load_toml
    from registry import csvfiles, document, sync

    if Path(args.file).is_dir():
        doc = csvfiles.read(Path(args.file))  # ConfigError: exit 2, every problem
    else:
        doc = load_toml(document.RegistryDoc, args.file)  # ConfigError: exit 2
        document.check(doc, args.file)
    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    todo = sync.import_rows(engine, document.to_rows(doc), args.prune, args.dry_run)
    for table, c in todo.tables.items():
        _say(
            args.lang,
            "registry.import.table",
            table=_table_name(args.lang, table.__tablename__),
            added=len(c.added),
            changed=len(c.changed),
            removed=len(c.removed),
            same=c.unchanged,
        )
    if todo.empty:
        _say(args.lang, "registry.import.nothing", file=args.file)
    elif args.dry_run:
        _say(args.lang, "registry.import.dry_run", file=args.file)
    else:
        _say(args.lang, "registry.import.done", file=args.file)
    return EXIT_OK


def _table_name(lang: str, table: str) -> str:
    from kernel.text import tr

    return tr(f"registry.table.{table}", lang)  # type: ignore[arg-type]


def export_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kernel import __version__
    from registry import csvfiles, document, sync

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    data = document.from_rows(sync.export_rows(engine))
    counts = {table: len(items) for table, items in data.items()}
    if args.format == "csv":
        csvfiles.write(Path(args.file), data)
        _say(args.lang, "registry.export.done", file=args.file, **counts)
        return EXIT_OK
    header = f"JagaJalan registry, exported by jagajalan {__version__} (jagajalan registry export)"
    text = document.dumps(data, header)
    if args.file == "-":
        sys.stdout.write(text)
        return EXIT_OK
    Path(args.file).write_text(text, encoding="utf-8")
    _say(args.lang, "registry.export.done", file=args.file, **counts)
    return EXIT_OK


def credentials_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy.orm import Session

    from kernel.config import ConfigError
    from kernel.fields import check_broker_url
    from kernel.text import TextError
    from registry import credentials
    from registry.models import Gateway

    try:
        check_broker_url(args.broker_url)
    except TextError as exc:
        raise ConfigError("--broker-url", [("--broker-url", args.broker_url, exc)]) from None
    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    with Session(engine) as session:
        gateway = session.get(Gateway, args.gateway)
        if gateway is None:
            _say(args.lang, "registry.err.unknown_gateway", True, gateway=args.gateway)
            return EXIT_CONFIG
        site = gateway.site
        config = credentials.gateway_config(
            gateway.id,
            site.name if site else None,
            site.latitude if site else None,
            site.longitude if site else None,
            args.broker_url,
            args.gateway_password_path,
        )
    password = credentials.new_password()
    out = Path(args.password_out)
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(password + "\n", encoding="utf-8")
    credentials.write_entry(Path(args.mosquitto_passwd), args.gateway, password)
    _say(
        args.lang,
        "registry.credentials.done",
        True,
        gateway=args.gateway,
        out=out,
        path=args.gateway_password_path,
        passwd=args.mosquitto_passwd,
    )
    sys.stdout.write(config)
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.tables import print_table
    from kernel.text import tr
    from registry import document, sync

    engine = _engine(args)
    if engine is None:
        return EXIT_DB
    data = document.from_rows(sync.export_rows(engine))
    items = data[args.what]
    if args.what == "gateways":
        counts: dict[str, int] = {}
        for sensor in data["sensors"]:
            counts[sensor["gateway"]] = counts.get(sensor["gateway"], 0) + 1
        items = [g | {"sensors": counts.get(g["id"], 0)} for g in items]
    columns = COLUMNS[args.what]
    headers = [tr(f"registry.col.{c}", args.lang) for c in columns]
    rows = [[_cell(item, c) for c in columns] for item in items]
    console = Console(highlight=False)
    what = _table_name(args.lang, args.what)
    title = tr("registry.list.title", args.lang, what=what, n=len(rows))
    print_table(console, title, headers, rows)
    return EXIT_OK


COLUMNS = {
    "sites": ("id", "name", "kecamatan", "road_type", "capacity", "flood"),
    "gateways": ("id", "site", "sensors"),
    "sensors": ("gateway", "id", "device", "profile", "installed_on"),
}


def _cell(item: dict[str, Any], column: str) -> str:
    if column == "capacity":
        value = item.get("capacity_smp_per_hour")
        return "-" if value is None else f"{value:g}"
    if column == "flood":
        flood = item.get("flood")
        if flood is None:
            return "-"
        levels = [f"{v:g}" for k, v in flood.items() if k != "ladder"]
        unit = "cm" if flood["ladder"] == "road_depth" else "m"
        return f"{flood['ladder']} {' / '.join(levels)} {unit}"
    value = item.get(column)
    return "-" if value is None else str(value)
