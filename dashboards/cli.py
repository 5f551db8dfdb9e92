"""``jagajalan dashboards generate|sites|push``: Grafana dashboards as code.

- ``generate`` writes dashboards/*.json from dashboards/boards/ (``--check``: only say which
  files differ from the code, exit 1 if any);
- ``sites`` copies the registry's sites into InfluxDB (``jagajalan_site``), which the
  dashboards' template variables and site map read; run it after every change of sites;
- ``push`` saves the dashboards into a running Grafana (``--grafana-url``, the token in
  ``--grafana-token-file`` or JAGAJALAN_GRAFANA_TOKEN: never on the command line).

Exit codes: 0 done, 1 the store or Grafana refused (or files differ, with ``--check``), 2 a
mistake in the options.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    from dashboards.settings import DashboardPushSettings, DashboardSitesSettings
    from kernel.settings import add_options
    from kernel.text import LANGS, default_lang

    parser = sub.add_parser("dashboards", help="Grafana dashboards: generate, sites, push")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser(
        "generate",
        help="write dashboards/*.json from the code (--check: compare only)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument("--out", type=Path, default=None, help="folder (default: the package's)")
    gen.add_argument("--check", action="store_true", help="only list files that differ")
    gen.add_argument("--lang", choices=LANGS, default="id", help="id (default) or en: the text")
    gen.add_argument(
        "--tiles",
        default=None,
        metavar="URL",
        help="the site map's base layer: an XYZ tile URL ({z}/{x}/{y}) of a tile server the "
        "district runs; default: country outlines Grafana serves itself (no internet)",
    )
    gen.set_defaults(func=generate_command)
    sites = actions.add_parser(
        "sites",
        help="copy the registry's sites into InfluxDB (jagajalan_site) for the dashboards",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(sites, DashboardSitesSettings)
    sites.set_defaults(func=sites_command)
    push = actions.add_parser(
        "push",
        help="save the dashboards into a running Grafana through its HTTP API",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(push, DashboardPushSettings)
    push.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    push.set_defaults(func=push_command)


def generate_command(args: argparse.Namespace) -> int:
    from dashboards import generate

    folder = args.out or generate.FOLDER
    if args.check:
        differ = generate.stale(folder, args.lang)  # the checked-in files: no --tiles
        for name in differ:
            print(f"differs from the code: {folder / name}", file=sys.stderr)
        return EXIT_FAILED if differ else EXIT_OK
    for path in generate.write_all(folder, args.lang, args.tiles):
        print(path)
    return EXIT_OK


def sites_command(args: argparse.Namespace) -> int:
    from dashboards.settings import DashboardSitesSettings
    from dashboards.sites import copy_sites
    from kernel.settings import load
    from registry import db
    from store import StoreError

    settings = load(DashboardSitesSettings, args, os.environ)
    engine = db.engine_for(settings.database_url())
    store = settings.open_influx()
    try:
        written = copy_sites(engine, store, int(time.time() * 1000))
    except StoreError as exc:
        print(f"jagajalan dashboards sites: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
        engine.dispose()
    print(f"{written} sites written to {settings.influx_db}")
    return EXIT_OK


def push_command(args: argparse.Namespace) -> int:
    from grafana_client import GrafanaApi

    from dashboards.generate import render_all
    from dashboards.push import PushError, push
    from dashboards.settings import DashboardPushSettings
    from kernel.settings import load
    from kernel.text import tr

    settings = load(DashboardPushSettings, args, os.environ)
    token = settings.grafana_token.get_secret_value() if settings.grafana_token else None
    api = GrafanaApi.from_url(
        settings.grafana_url, credential=token, timeout=settings.grafana_timeout
    )

    def said(name: str, uid: str) -> None:
        print(tr("dash.push.saved", args.lang, name=name, uid=uid))

    try:
        push(api, render_all(), said)
    except PushError as exc:
        failed = tr("dash.push.failed", args.lang, url=settings.grafana_url, error=str(exc))
        print(failed, file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # nothing listening, a name that does not resolve, TLS
        unreachable = tr("dash.push.unreachable", args.lang, url=settings.grafana_url, error=exc)
        print(unreachable, file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
