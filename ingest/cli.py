"""``jagajalan ingest run``: one ingest worker, MQTT -> InfluxDB (or the embedded SQLite store).

Every option can also come from an environment variable ``JAGAJALAN_<OPTION>`` (dashes as
underscores: ``--influx-url`` = ``JAGAJALAN_INFLUX_URL``); the command line wins. Secrets are
never options: they come from files (``--mqtt-password-file``, ``--influx-token-file``,
``--influx-password-file``, or the same as ``JAGAJALAN_*_FILE``) or from the environment
(``JAGAJALAN_MQTT_PASSWORD``, ``JAGAJALAN_INFLUX_TOKEN``, ``JAGAJALAN_INFLUX_PASSWORD``), and
are never logged. Workers sharing the load (``--shared-group``) each need their own stable
``--client-id`` (``ingest.1``, ``ingest.2``, ...). All options: docs/configuration.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal

from kernel.signals import stop_event

log = logging.getLogger("ingest")


def register(sub: argparse._SubParsersAction) -> None:
    from ingest.settings import IngestRunSettings
    from kernel.settings import add_options

    parser = sub.add_parser("ingest", help="write MQTT readings into the time-series store")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run an ingest worker until SIGTERM/SIGINT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(run, IngestRunSettings)
    run.set_defaults(func=run_command)


def build(args: argparse.Namespace, env: dict[str, str] | None = None):
    """Options (else environment) -> (IngestSettings, StoreWriter). Raises
    :class:`kernel.settings.SettingsError` listing every problem."""
    from ingest.settings import IngestRunSettings
    from kernel.fields import client_id_allowed
    from kernel.settings import load

    settings = load(IngestRunSettings, args, os.environ if env is None else env)
    client_id, user = settings.effective_client_id, settings.mqtt_username
    if user and not client_id_allowed(client_id, user):
        log.warning(
            "event=client_id_refused_by_rule client_id=%s user=%s: the shipped broker accepts "
            "only client id %s or %s.<anything> for this user (deploy/mosquitto/mosquitto.conf)",
            client_id,
            user,
            user,
            user,
        )
    return settings.service_settings(), settings.open_store()


def run_command(args: argparse.Namespace) -> int:
    from ingest.service import IngestService

    settings, store = build(args)

    def on_signal(sig: signal.Signals) -> None:
        log.info("%s received: flushing and stopping", sig.name)

    try:
        with stop_event(on_signal=on_signal) as stop:
            return IngestService(settings, store).run(stop)
    except OSError as exc:  # metrics port taken, CA file unreadable, ...
        log.error("ingest cannot start: %s", exc)
        return 1
    finally:
        store.close()
