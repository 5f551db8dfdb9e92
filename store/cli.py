"""``jagajalan store setup`` and ``jagajalan store backfill``: the store's admin commands.

``store setup`` makes the InfluxDB 1.x database ready, idempotently, with admin credentials
that no service holds: the database, the retention policies and continuous queries
(docs/scaling.md section 7), and a user per service with exactly the privilege it needs
(ingest WRITE; api, alerts, grafana READ). A service user is created, or its password set and
its grants made exact, only when its password file is given. ``--dry-run`` prints the InfluxQL
it would run, passwords masked, and changes nothing.

With a token (InfluxDB 2.x/3.x through their v1 API) there are no users, grants, retention
policies or continuous queries to make through InfluxQL: the command only checks that the
token may write to the database and prints what to set up with the server's own tools.

Every option can also come from ``JAGAJALAN_<OPTION>`` (``--admin-password-file`` =
``JAGAJALAN_ADMIN_PASSWORD_FILE``); the command line wins. Secrets come only from files and are
never printed or logged.

Exit codes: 0 done (or, with --dry-run, printed); 2 a configuration error (bad option, a
password file that is unreadable, empty or a well-known default); 3 InfluxDB is unreachable,
refused the admin login, or refused a statement (the statements before it stay done; run the
command again once fixed).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any
from urllib.parse import urlsplit

from kernel.config import ConfigError
from kernel.secrets import DEFAULT_SECRETS, read_secret_file
from store.privileges import SERVICE_USERS

log = logging.getLogger("store")

SOURCE = "command line"
EXIT_OK, EXIT_CONFIG, EXIT_INFLUX = 0, 2, 3


def _option(parser: argparse._ActionsContainer, option: str, help: str, **kwargs: Any) -> None:
    env = "JAGAJALAN_" + option.lstrip("-").upper().replace("-", "_")
    default = os.environ.get(env, kwargs.pop("default", None))
    parser.add_argument(option, default=default, help=f"{help} [env {env}]", **kwargs)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("store", help="set up the InfluxDB database, its users and rollups")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = actions.add_parser(
        "setup",
        help="create the database, retention, rollups and least-privilege users (as an admin)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c = setup.add_argument_group("InfluxDB")
    _option(c, "--influx-url", "InfluxDB base URL, e.g. http://127.0.0.1:8086")
    _option(c, "--influx-db", "the JagaJalan database", default="jagajalan")
    _option(c, "--influx-timeout", "seconds to wait for each answer", type=float, default=10.0)
    _option(c, "--wait", "wait this many seconds for InfluxDB to answer", type=float, default=0.0)
    a = setup.add_argument_group("admin credentials (InfluxDB 1.x user, or a 2.x/3.x token)")
    _option(a, "--admin-username", "an InfluxDB admin user")
    _option(a, "--admin-password-file", "file holding the admin's password")
    _option(a, "--admin-token-file", "file holding an InfluxDB 2.x/3.x token (see above)")
    r = setup.add_argument_group("retention (see docs/scaling.md)")
    _option(r, "--raw-retention", "keep raw points this long (e.g. 90d)", default="90d")
    _option(r, "--rollup-1m-retention", "keep 1-minute rollups this long", default="730d")
    _option(r, "--rollup-1h-retention", "keep 1-hour rollups (INF = forever)", default="INF")
    u = setup.add_argument_group("service users (each set up only when its password file is given)")
    for user in SERVICE_USERS:
        s = user.service
        _option(u, f"--{s}-username", f"{s}'s user", default=user.default_username)
        _option(u, f"--{s}-password-file", f"file holding {s}'s password ({user.privilege})")
    setup.add_argument(
        "--dry-run", action="store_true", help="print the statements (passwords masked) only"
    )
    setup.set_defaults(func=setup_command)

    bf = actions.add_parser(
        "backfill",
        help="recompute the 1-minute and 1-hour rollups of a past window (docs/scaling.md)",
    )
    _option(bf, "--influx-url", "InfluxDB base URL, e.g. http://127.0.0.1:8086")
    _option(bf, "--influx-db", "InfluxDB database", default="jagajalan")
    _option(bf, "--influx-token-file", "file holding an InfluxDB 2.x/3.x token")
    _option(bf, "--influx-username", "a user with READ and WRITE on the database (or an admin)")
    _option(bf, "--influx-password-file", "file holding that user's password")
    bf.add_argument("--start", required=True, help="UTC start, e.g. 2026-11-01T00:00:00Z")
    bf.add_argument("--end", required=True, help="UTC end (exclusive)")
    bf.set_defaults(func=backfill_command)


def _check_url(url: str | None, problems: list) -> None:
    if not url or urlsplit(url).scheme not in ("http", "https"):
        problems.append(("--influx-url", url, "must be http://host:port or https://"))


def _credentials(args: argparse.Namespace, problems: list) -> dict[str, str | None]:
    """The admin's username/password or token (all None: an InfluxDB without auth)."""
    username, password, token = args.admin_username, None, None
    if args.admin_password_file:
        password = read_secret_file(
            "--admin-password-file", args.admin_password_file, problems, refuse_defaults=False
        )
        if password and password.strip().lower() in DEFAULT_SECRETS:
            log.warning("the InfluxDB admin password is a well-known default: change it")
    if args.admin_token_file:
        token = read_secret_file("--admin-token-file", args.admin_token_file, problems)
    if token is not None and (username or args.admin_password_file):
        problems.append(("--admin-token-file", args.admin_token_file, "give a token or a user"))
    if username and not args.admin_password_file:
        problems.append(("--admin-password-file", None, "--admin-username needs a password file"))
    if args.admin_password_file and not username:
        problems.append(("--admin-username", None, "a password file needs --admin-username"))
    return {"username": username, "password": password, "token": token}


def _users(args: argparse.Namespace, token: bool, admin: str | None, problems: list):
    from store.setup import UserSpec

    users, seen = [], {}
    for user in SERVICE_USERS:
        s = user.service
        name, path = getattr(args, f"{s}_username"), getattr(args, f"{s}_password_file")
        if not path:
            continue
        option = f"--{s}-password-file"
        if token:
            problems.append((option, path, "InfluxDB 2.x/3.x have no users: make tokens"))
            continue
        if not name:
            problems.append((f"--{s}-username", name, "must not be empty"))
        elif name == admin:
            problems.append((f"--{s}-username", name, "is the admin: each service needs its own"))
        elif name in seen:
            problems.append((f"--{s}-username", name, f"also {seen[name]}'s: one user a service"))
        seen[name] = s
        password = read_secret_file(option, path, problems)
        if password is not None and name:
            users.append(UserSpec(name, user.privilege, password))
    return users


def _retention(args: argparse.Namespace, problems: list):
    from store.retention import RetentionSettings

    settings = RetentionSettings(
        raw=args.raw_retention,
        rollup_1m=args.rollup_1m_retention,
        rollup_1h=args.rollup_1h_retention,
    )
    for name, value, message in settings.problems():
        problems.append(("--" + name.replace("_", "-") + "-retention", value, message))
    return settings


def setup_command(args: argparse.Namespace) -> int:
    from store.influx import InfluxStore

    problems: list[tuple[str, Any, str]] = []
    _check_url(args.influx_url, problems)
    if not args.influx_db:
        problems.append(("--influx-db", args.influx_db, "must not be empty"))
    if not 0.1 <= args.influx_timeout <= 600:
        problems.append(("--influx-timeout", args.influx_timeout, "must be between 0.1 and 600"))
    if not 0 <= args.wait <= 3600:
        problems.append(("--wait", args.wait, "must be between 0 and 3600"))
    creds = _credentials(args, problems)
    users = _users(args, creds["token"] is not None, creds["username"], problems)
    settings = _retention(args, problems)
    if problems:
        raise ConfigError(SOURCE, problems)
    admin = InfluxStore(args.influx_url, args.influx_db, timeout=args.influx_timeout, **creds)
    try:
        if args.wait and not _wait(admin, args.wait):
            log.error(
                "store setup: InfluxDB at %s did not answer /ping in %ss", admin.url, args.wait
            )
            return EXIT_INFLUX
        if creds["token"] is not None:
            return _token_mode(admin, settings)
        return _setup(admin, settings, users, args.dry_run)
    finally:
        admin.close()


def _wait(admin: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not admin.ping():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def _setup(admin: Any, settings: Any, users: list, dry_run: bool) -> int:
    from store import setup
    from store.base import MISSING_LOGIN, StoreAuthFailed, StoreError, StoreNotReady

    who = f"user {admin.username!r}" if admin.username else "no login (InfluxDB without auth)"
    print(f"store setup: database {admin.database!r} on {admin.url} as {who}")
    try:
        statements = setup.run(admin, settings, users, dry_run=dry_run, progress=print)
    except StoreNotReady as exc:
        hint = ""
        if exc.missing == MISSING_LOGIN:
            hint = " (store setup needs an InfluxDB admin: --admin-username, --admin-password-file)"
        log.error("store setup failed: %s%s", exc, hint)
        return EXIT_INFLUX
    except StoreAuthFailed as exc:
        log.error("store setup failed: %s (is %s an InfluxDB admin?)", exc, who)
        return EXIT_INFLUX
    except StoreError as exc:
        log.error("store setup failed: %s", exc)
        return EXIT_INFLUX
    granted = ", ".join(f"{u.name} ({u.privilege})" for u in users) or "none given"
    done = "would run; nothing changed (dry run)" if dry_run else "run"
    print(f"store setup: {len(statements)} statement(s) {done}; service users: {granted}")
    return EXIT_OK


def _token_mode(admin: Any, settings: Any) -> int:
    from store.base import StoreError

    db = admin.database
    print(f"store setup: database {db!r} on {admin.url} with a token")
    print(
        f"store setup: a token (InfluxDB 2.x/3.x): users, grants, retention policies and "
        f"continuous queries are InfluxDB 1.x features and are not made through its v1 API.\n"
        f"  Make with the server's own tools: a bucket for database {db!r} (retention "
        f"{settings.raw}) and its DBRP mapping; the rollups of docs/scaling.md as tasks (2.x) "
        f"or the processing engine (3.x); tokens: ingest write-only on the bucket, api, alerts "
        f"and grafana read-only."
    )
    try:
        admin.check_write()
    except StoreError as exc:
        log.error("store setup: the token cannot write to %r yet: %s", db, exc)
        return EXIT_INFLUX
    print(f"store setup: database {db!r} exists and this token may write to it")
    return EXIT_OK


def _utc_ms(problems: list, option: str, text: str) -> int:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        problems.append((option, text, "not a time such as 2026-11-01T00:00:00Z"))
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def backfill_command(args: argparse.Namespace) -> int:
    from store import retention
    from store.base import StoreError
    from store.influx import InfluxStore

    problems: list[tuple[str, Any, str]] = []
    _check_url(args.influx_url, problems)
    start = _utc_ms(problems, "--start", args.start)
    end = _utc_ms(problems, "--end", args.end)
    if start and end and start >= end:
        problems.append(("--end", args.end, "must be after --start"))
    token = password = None
    if args.influx_token_file:
        token = read_secret_file("--influx-token-file", args.influx_token_file, problems)
    if args.influx_password_file:
        password = read_secret_file(
            "--influx-password-file", args.influx_password_file, problems, refuse_defaults=False
        )
    if problems:
        raise ConfigError(SOURCE, problems)
    store = InfluxStore(
        args.influx_url,
        args.influx_db,
        token=token,
        username=args.influx_username,
        password=password,
    )
    try:
        written = retention.backfill(store, start, end)
    except StoreError as exc:
        log.error("event=backfill_failed error=%r", str(exc))
        return EXIT_INFLUX
    finally:
        store.close()
    log.info("event=backfilled start=%s end=%s rollup_points=%d", args.start, args.end, written)
    print(f"{written} rollup points written")
    return EXIT_OK
