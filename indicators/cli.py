"""``jagajalan analytics run`` and ``jagajalan analytics backfill``: the indicators job.

Computes ISPU per station per hour, traffic per segment per interval and flood status per
site from the stored readings and writes them back as the measurements
``jagajalan_ispu_hourly``, ``jagajalan_traffic`` and ``jagajalan_flood_status``
(docs/protocol.md), so the API, Grafana and alerts read the same numbers. Reads and writes
only through the store's interfaces: InfluxDB (``--influx-url``, as the user
``jagajalan_analytics`` that ``jagajalan store setup --analytics-password-file`` makes with
ALL, i.e. READ and WRITE, on the database) or the embedded SQLite store (``--sqlite``). Site
parameters: ``--config`` (a TOML file, docs/configuration.md). Recomputing a window writes
the same points again, so a backfill can be repeated and overlaps the service safely. With
``--metrics-port`` the service serves its Prometheus metrics (indicators/metrics.py;
docs/scaling.md section 8 lists them).

What "now" is for the service (``--clock``, indicators/clock.py): ``wall``, this machine's
clock; ``data``, the newest reading's time in the store (readings from the past); ``scenario``,
a simulator scenario played faster than real time, as ``make demo`` does (its windows are the
scenario's, stamped back in real time).

Exit codes: 0 done, 1 the store failed (or the metrics port is taken), 2 a mistake in the
options or the config file.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

log = logging.getLogger("indicators")

EXIT_OK, EXIT_STORE, EXIT_PORT = 0, 1, 1
PROGRESS = "analytics.backfill.progress"
DAY_MS = 86_400_000


def register(sub: argparse._SubParsersAction) -> None:
    from indicators.settings import AnalyticsBackfillSettings, AnalyticsRunSettings
    from kernel.settings import add_options

    parser = sub.add_parser(
        "analytics", help="indicators computed once from the readings: ISPU, traffic, flood"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="compute the last complete windows every --every seconds until SIGTERM/SIGINT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(run, AnalyticsRunSettings)
    run.set_defaults(func=run_command)
    backfill = actions.add_parser(
        "backfill",
        help="compute every window from --start to --end (idempotent), with progress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(backfill, AnalyticsBackfillSettings)
    from kernel.text import LANGS, default_lang

    backfill.add_argument(
        "--lang", choices=LANGS, default=default_lang(), help="id (default) or en: the progress"
    )
    backfill.set_defaults(func=backfill_command)


def _open(settings: object, *, service: bool) -> object:
    """The store, checked: a backfill stops on a store not ready (StoreError); the service
    says what is missing and keeps passing, each pass failing until an admin fixes it."""
    from store import StoreError
    from store.sqlite import SQLiteStore

    store = settings.open_store()  # type: ignore[attr-defined]
    if isinstance(store, SQLiteStore):
        store.ensure()  # a local file the job may create; InfluxDB is set up by an admin
        return store
    try:
        store.check_read()
        store.check_write()
    except StoreError as exc:
        if not service:
            store.close()
            raise
        log.warning("event=indicators_store_not_ready error=%r", _explain(exc, settings))
    return store


def _explain(exc: Exception, settings: object) -> str:
    """What is missing and the command that fixes it (store.privileges), never a secret."""
    from store import StoreNotReady
    from store.privileges import explain

    if isinstance(exc, StoreNotReady):
        return explain("analytics", exc, getattr(settings, "influx_url", None) or "")
    return str(exc)


def run_command(args: argparse.Namespace) -> int:
    from indicators import job
    from indicators.metrics import AnalyticsMetrics
    from indicators.settings import AnalyticsRunSettings
    from indicators.sites import RegistrySites
    from kernel.settings import load
    from kernel.signals import stop_event
    from store import StoreError
    from store.metered import MeteredStore

    settings = load(AnalyticsRunSettings, args, os.environ)
    config = RegistrySites(settings.indicators(), settings)
    try:
        store = _open(settings, service=True)
    except StoreError as exc:
        log.error("event=indicators_store_failed error=%r", _explain(exc, settings))
        return EXIT_STORE
    metrics = AnalyticsMetrics()
    try:
        port = metrics.server.serve(settings.metrics_port)
    except OSError as exc:  # the port is taken
        log.error("event=indicators_metrics_failed port=%d error=%r", settings.metrics_port, exc)
        store.close()  # type: ignore[attr-defined]
        return EXIT_PORT
    if port:
        log.info("event=metrics url=http://0.0.0.0:%d/metrics", port)
    metered = MeteredStore(store, metrics.observe_store)
    log.info(
        "event=indicators_started every=%s lookback=%s clock=%s",
        settings.every,
        settings.lookback,
        settings.clock,
    )
    view: Any = metered
    if settings.clock == "scenario":
        from indicators.clock import ScenarioStore

        view = ScenarioStore(metered, metered, settings.scenario_time())
    try:
        with stop_event() as stop:
            now_ms = settings.now_ms(metered)
            job.run(
                view,
                view,
                config,
                settings.every,
                settings.lookback,
                stop,
                metrics=metrics,
                now_ms=now_ms,
            )
    finally:
        metrics.server.close()
        store.close()  # type: ignore[attr-defined]
    log.info("event=indicators_stopped")
    return EXIT_OK


def backfill_command(args: argparse.Namespace) -> int:
    from indicators import job
    from indicators.settings import AnalyticsBackfillSettings
    from indicators.sites import RegistrySites
    from kernel.settings import load
    from kernel.text import tr
    from store import StoreError

    settings = load(AnalyticsBackfillSettings, args, os.environ)
    config = RegistrySites(settings.indicators(), settings)()

    def show(p: job.Progress) -> None:
        if p.done_ms % DAY_MS and p.done_ms != p.end_ms:
            return  # a line a day
        percent = f"{p.fraction:.1%}"
        print(tr(PROGRESS, args.lang, percent=percent, time=_iso(p.done_ms), points=p.points))

    try:
        store = _open(settings, service=False)
        try:
            written = job.backfill(store, store, config, settings.start, settings.end, show)  # type: ignore[arg-type]
        finally:
            store.close()  # type: ignore[attr-defined]
    except StoreError as exc:
        log.error("event=indicators_backfill_failed error=%r", _explain(exc, settings))
        return EXIT_STORE
    start, end = _iso(settings.start), _iso(settings.end)
    print(tr("analytics.backfill.done", args.lang, points=written, start=start, end=end))
    return EXIT_OK


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
