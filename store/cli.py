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

log = logging.getLogger("store")

EXIT_OK, EXIT_CONFIG, EXIT_INFLUX = 0, 2, 3


def register(sub: argparse._SubParsersAction) -> None:
    from kernel.settings import add_options
    from store.settings import BackfillSettings, StoreSetupSettings

    parser = sub.add_parser("store", help="set up the InfluxDB database, its users and rollups")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = actions.add_parser(
        "setup",
        help="create the database, retention, rollups and least-privilege users (as an admin)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(setup, StoreSetupSettings)
    setup.set_defaults(func=setup_command)
    bf = actions.add_parser(
        "backfill",
        help="recompute the 1-minute and 1-hour rollups of a past window (docs/scaling.md)",
    )
    add_options(bf, BackfillSettings)
    bf.set_defaults(func=backfill_command)


def setup_command(args: argparse.Namespace) -> int:
    from kernel.fields import DEFAULT_SECRETS
    from kernel.settings import load
    from store.influx import InfluxStore
    from store.settings import StoreSetupSettings

    settings = load(StoreSetupSettings, args, os.environ)
    creds = settings.admin_credentials()
    if creds["password"] and creds["password"].strip().lower() in DEFAULT_SECRETS:
        log.warning("the InfluxDB admin password is a well-known default: change it")
    assert settings.influx_url is not None  # a rule of the settings
    admin = InfluxStore(
        settings.influx_url, settings.influx_db, timeout=settings.influx_timeout, **creds
    )
    try:
        if settings.wait and not _wait(admin, settings.wait):
            log.error(
                "store setup: InfluxDB at %s did not answer /ping in %ss", admin.url, settings.wait
            )
            return EXIT_INFLUX
        if creds["token"] is not None:
            return _token_mode(admin, settings.retention())
        return _setup(admin, settings.retention(), settings.users(), settings.dry_run)
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


#: Seconds a backfill waits for each answer: each of its queries aggregates a whole window of
#: the district, which on a busy server takes longer than a service's 10 s reads.
BACKFILL_TIMEOUT = 120.0


def backfill_command(args: argparse.Namespace) -> int:
    from kernel.settings import load
    from store import retention
    from store.base import StoreError
    from store.influx import InfluxStore
    from store.settings import BackfillSettings

    settings = load(BackfillSettings, args, os.environ)
    assert settings.influx_url is not None  # a rule of the settings
    store = InfluxStore(
        settings.influx_url,
        settings.influx_db,
        timeout=BACKFILL_TIMEOUT,
        **settings.influx_secrets(),
    )
    try:
        written = retention.backfill(store, settings.start, settings.end)
    except StoreError as exc:
        log.error("event=backfill_failed error=%r", str(exc))
        return EXIT_INFLUX
    finally:
        store.close()
    log.info("event=backfilled start=%s end=%s rollup_points=%d", args.start, args.end, written)
    print(f"{written} rollup points written")
    return EXIT_OK
