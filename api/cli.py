"""``jagajalan api run``: serve the HTTP API with uvicorn.

Every option can also come from ``JAGAJALAN_<OPTION>`` (``--influx-url`` =
``JAGAJALAN_INFLUX_URL``); the command line wins. Secrets come only from files
(``--influx-token-file``, ``--influx-password-file``) or from ``JAGAJALAN_INFLUX_TOKEN`` /
``JAGAJALAN_INFLUX_PASSWORD``, and are never logged. Without ``--influx-url`` the embedded
SQLite store is read (``--sqlite``, default ./var/jagajalan.sqlite). All options:
docs/configuration.md.

The API only reads: its InfluxDB user needs READ on the database and nothing else (``jagajalan
store setup --api-password-file ...`` makes it). At start it checks that it may read and, if
not, logs what is missing and the command that fixes it, then serves anyway: ``/health``
reports ``degraded`` with the reason until an admin fixes it, without a restart.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal

from kernel.signals import ignoring

log = logging.getLogger("api")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("api", help="serve the HTTP API (latest readings, gateways, health)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run the API server until SIGTERM/SIGINT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    from api.settings import ApiSettings
    from kernel.settings import add_options

    add_options(run, ApiSettings)
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    import functools

    import uvicorn

    from api.app import create_app
    from api.broker import mqtt_reachable
    from api.settings import settings_from
    from store import StoreError, StoreNotReady
    from store.privileges import explain
    from store.sqlite import SQLiteStore

    settings = settings_from(args, os.environ)
    store = settings.open_store()
    try:
        if isinstance(store, SQLiteStore):
            try:
                store.ensure()  # a local file the API may create; InfluxDB is set up by an admin
            except StoreError as exc:
                log.error("cannot open the store: %s", exc)
                return 1
        else:
            try:
                store.check_read()
            except StoreNotReady as exc:
                log.error("store not ready: %s", explain("api", exc, settings.influx_url or ""))
            except StoreError as exc:
                log.warning("store not reachable at start: %s", exc)
        broker_check = (
            functools.partial(
                mqtt_reachable,
                settings.broker_url,
                settings.broker_timeout,
                str(settings.ca_file) if settings.ca_file else None,
            )
            if settings.broker_url
            else None
        )
        from api.keys import access_from, registry_reader

        access = access_from(settings)
        try:
            app = create_app(
                store,
                broker_check,
                access=access,
                registry=registry_reader(access),
                map_tiles=settings.map_tiles,
                map_attribution=settings.map_attribution,
                latest_refresh=settings.latest_refresh_seconds,
            )
        except ValueError as exc:  # a --public-read group that does not exist
            log.error("%s", exc)
            return 2
        log.info(
            "API on http://%s:%d (docs at /docs), store: %s, broker check: %s, public reads: %s,"
            " latest values refreshed every %s s",
            settings.host,
            settings.port,
            settings.describe_store(),
            settings.broker_url or "off",
            settings.public_read,
            settings.latest_refresh_seconds,
        )
        # uvicorn shuts down gracefully on SIGTERM, restores the previous handler and raises
        # the signal again: with this no-op handler that ends here, so the store is closed
        # and the exit code is 0, as for `ingest run`. SIGINT still ends as KeyboardInterrupt.
        with ignoring([signal.SIGTERM]):
            uvicorn.run(
                app, host=settings.host, port=settings.port, log_config=None, access_log=False
            )
        log.info("API stopped")
    finally:
        store.close()
    return 0
