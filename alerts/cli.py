"""``jagajalan alerts``: the alerts service and what an operator does with alerts.

- ``alerts run``: evaluate the rules (``--rules-file``, examples/alerts.toml) over every gateway's
  readings and status as they arrive, and on a clock for absence, reminders and escalation;
  several instances may run, one acts (a lease in the registry's database).
- ``alerts send``: only send what the outbox holds (``alerts run`` sends too; a second sender
  makes delivery survive the loss of one; docs/alerts.md).
- ``alerts list``: the alerts, newest first (``--state firing|acknowledged|resolved``).
- ``alerts ack ALERT --by NAME``: acknowledge a firing alert: reminders and escalation stop
  within one evaluation of the service.
- ``alerts silence``: hold back the notifications of matching alerts for a while.

The alerts live in the registry's database (``--registry-db`` / ``--registry-url``). Output
in Bahasa Indonesia, ``--lang en`` English. Exit codes: 0 done; 1 the alert is not firing or
does not exist; 2 a mistake in the options or the rules file; 3 the database cannot be reached
or is not migrated (``jagajalan registry upgrade``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("alerts")

EXIT_OK, EXIT_NOT_FIRING, EXIT_CONFIG, EXIT_DB = 0, 1, 2, 3


def register(sub: argparse._SubParsersAction) -> None:
    from alerts.settings import AlertsRegistrySettings, AlertsRunSettings
    from kernel.settings import add_options
    from kernel.text import LANGS, default_lang

    parser = sub.add_parser(
        "alerts",
        help="alert rules over the live data; list, acknowledge and silence alerts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="evaluate the rules until SIGTERM/SIGINT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(run, AlertsRunSettings)
    run.set_defaults(func=run_command)
    from alerts.delivery.settings import DeliverySettings

    send = actions.add_parser(
        "send",
        help="only send what the outbox holds (a second sender; alerts run sends too)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(send, DeliverySettings)
    send.set_defaults(func=send_command)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=text, description=text)
        add_options(p, AlertsRegistrySettings)
        p.add_argument("--lang", choices=LANGS, default=default_lang(), help="id (default) or en")
        return p

    lst = action("list", "the alerts, newest first")
    lst.add_argument("--state", choices=("firing", "acknowledged", "resolved"))
    lst.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    lst.set_defaults(func=list_command)
    ack = action("ack", "acknowledge a firing alert: its reminders and escalation stop")
    ack.add_argument("alert", metavar="ALERT", help="the alert's id (alerts list shows it)")
    ack.add_argument("--by", required=True, help="who acknowledges (a name or contact id)")
    ack.set_defaults(func=ack_command)
    sil = action("silence", "hold back the notifications of matching alerts for a while")
    sil.add_argument("--rule", help="only this rule's alerts")
    sil.add_argument("--gateway", help="only this gateway's alerts")
    sil.add_argument("--site", help="only this site's alerts")
    sil.add_argument("--hours", type=float, required=True, help="how long, hours (e.g. 2)")
    sil.add_argument("--by", required=True, help="who silences")
    sil.add_argument("--reason", required=True, help="why (shown with the silence)")
    sil.set_defaults(func=silence_command)


def _engine(args: argparse.Namespace, settings_cls: Any) -> Any:
    """The registry's engine at the newest schema; None (reported) otherwise."""
    from sqlalchemy.exc import SQLAlchemyError

    from kernel.settings import load
    from kernel.text import tr
    from registry import db

    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load(settings_cls, args, os.environ)
    url = settings.database_url()
    where = url.render_as_string(hide_password=True)
    engine = db.engine_for(url)
    lang = getattr(args, "lang", "en")
    try:
        if db.current(engine) != db.head():
            print(tr("registry.err.not_migrated", lang, url=where), file=sys.stderr)
            return None
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        print(tr("registry.err.db", lang, url=where, reason=reason), file=sys.stderr)
        return None
    return settings, engine


def send_command(args: argparse.Namespace) -> int:
    from alerts.delivery.runner import send_alone
    from alerts.delivery.settings import DeliverySettings
    from kernel.settings import load

    return send_alone(load(DeliverySettings, args, os.environ))


def run_command(args: argparse.Namespace) -> int:
    from alerts.delivery.bridge import OutboxDelivery
    from alerts.delivery.runner import mqtt_client, sender_from, start_thread
    from alerts.evaluator import Evaluator
    from alerts.gauge import Gauge
    from alerts.indicators import IndicatorFeed
    from alerts.lifecycle.policy import Lifecycle
    from alerts.rules.config import AlertRules
    from alerts.rules.engine import Engine
    from alerts.service import Service
    from alerts.settings import AlertsRunSettings
    from kernel import mqtt
    from kernel.config import load_toml
    from kernel.signals import stop_event
    from registry.facts import gateway_sites
    from telemetry.models import DERIVED_MEASUREMENTS

    opened = _engine(args, AlertsRunSettings)
    if opened is None:
        return EXIT_DB
    settings, registry = opened
    rules = load_toml(AlertRules, settings.rules_path())  # ConfigError: exit 2, named
    sites = gateway_sites(registry)
    address = mqtt.parse_url(settings.broker_url)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    tls = mqtt.Tls(str(settings.ca_file)) if settings.ca_file else None
    protocol = mqtt.negotiate_protocol(
        address, settings.mqtt_protocol, username=settings.mqtt_username, password=password, tls=tls
    )
    feed = None
    watched = {r.measurement for r in rules.rules} & set(DERIVED_MEASUREMENTS)
    reader = settings.open_indicators()
    if reader is not None and watched:
        feed = IndicatorFeed(reader, watched)
    elif watched:
        log.warning(
            "event=alerts_no_indicators_store rules=%s: rules on %s need --influx-url or --sqlite",
            ",".join(sorted(r.id for r in rules.rules if r.measurement in watched)),
            ",".join(sorted(watched)),
        )
    if reader is None:
        log.warning("event=alerts_no_gauge: no --influx-url or --sqlite, no active-alerts gauge")
    webhooks = settings.webhooks()
    deliver = OutboxDelivery(rules, settings.base_url, webhooks, settings.mqtt_alerts == "on")
    evaluator = Evaluator(Engine(rules, sites), Lifecycle(rules, sites), registry, deliver)
    service = Service(
        evaluator,
        registry,
        address,
        protocol,
        username=settings.mqtt_username,
        password=password,
        client_id=settings.client_id,
        ca_file=str(settings.ca_file) if settings.ca_file else None,
        every_s=settings.every,
        lease_ttl_s=settings.lease_ttl,
        indicators=feed,
        indicators_every_s=settings.indicators_every,
        gauge=Gauge(reader) if reader is not None else None,
    )
    log.info(
        "event=alerts_rules file=%s rules=%d routes=%d sites=%d",
        settings.rules_path(),
        len(rules.rules),
        len(rules.routes),
        len(sites),
    )
    from prometheus_client import CollectorRegistry

    from kernel.metrics import MetricsServer

    metrics = CollectorRegistry()
    server = MetricsServer(metrics)
    port = server.serve(settings.metrics_port)
    client = None
    if settings.mqtt_alerts == "on":
        client = mqtt_client(settings, f"{service.holder}.delivery")
    sender = sender_from(settings, registry, service.holder, client, metrics)
    log.info(
        "event=alerts_delivery channels=%s metrics_port=%d",
        ",".join(sorted(sender.channels)) or "none",
        port,
    )
    try:
        with stop_event() as stop:
            thread = start_thread(sender, stop, settings.poll_s)
            service.run(stop)
            thread.join(30)
    finally:
        server.close()
        if client is not None:
            client.loop_stop()
            client.disconnect()
        if reader is not None:
            reader.close()
        registry.dispose()
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from alerts.settings import AlertsRegistrySettings
    from kernel.tables import print_table
    from kernel.text import tr
    from kernel.times import wib_iso
    from registry.alerts import list_alerts

    opened = _engine(args, AlertsRegistrySettings)
    if opened is None:
        return EXIT_DB
    _settings, engine = opened
    alerts = list_alerts(engine, state=args.state, limit=args.limit)
    engine.dispose()
    if not alerts:
        print(tr("alerts.cli.none", args.lang))
        return EXIT_OK
    heads = [tr(f"alerts.cli.col.{h}", args.lang) for h in ("id", "state", "level", "raised")]
    rows = [
        [
            a.id,
            tr(f"alerts.cli.state.{a.state}", args.lang),
            a.level,
            wib_iso(int(a.raised_at.timestamp() * 1000)) or "",
        ]
        for a in alerts
    ]
    print_table(Console(), tr("alerts.cli.title", args.lang), heads, rows)
    return EXIT_OK


def ack_command(args: argparse.Namespace) -> int:
    import datetime as dt

    from alerts.settings import AlertsRegistrySettings
    from kernel.text import tr
    from registry.alerts import acknowledge

    opened = _engine(args, AlertsRegistrySettings)
    if opened is None:
        return EXIT_DB
    _settings, engine = opened
    result = acknowledge(engine, args.alert, args.by, dt.datetime.now(dt.UTC))
    engine.dispose()
    out = sys.stdout if result == "acknowledged" else sys.stderr
    print(tr(f"alerts.cli.ack.{result}", args.lang, alert=args.alert, by=args.by), file=out)
    return EXIT_OK if result == "acknowledged" else EXIT_NOT_FIRING


def silence_command(args: argparse.Namespace) -> int:
    import secrets

    from alerts.lifecycle import store
    from alerts.lifecycle.policy import Silence
    from alerts.settings import AlertsRegistrySettings
    from kernel.text import tr
    from kernel.times import wib_iso

    if not 0 < args.hours <= 24 * 30:
        print(tr("alerts.cli.silence.hours", args.lang, hours=args.hours), file=sys.stderr)
        return EXIT_CONFIG
    opened = _engine(args, AlertsRegistrySettings)
    if opened is None:
        return EXIT_DB
    _settings, engine = opened
    now = time.time()
    silence = Silence(
        id=f"s-{secrets.token_hex(4)}",
        until_s=now + args.hours * 3600,
        rule=args.rule,
        gateway=args.gateway,
        site=args.site,
        by=args.by,
        reason=args.reason,
    )
    store.add_silence(engine, silence, now)
    engine.dispose()
    until = wib_iso(int(silence.until_s * 1000))
    print(tr("alerts.cli.silence.done", args.lang, id=silence.id, until=until))
    return EXIT_OK
