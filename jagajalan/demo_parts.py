"""Parts of `jagajalan demo` beyond the reading chain: the example registry, the
indicators job and the alerts service.

- :func:`prepare_registry`: the demo's own registry, an SQLite file in its folder
  (``<dir>/registry.sqlite3``), brought to the newest schema and to what
  ``examples/registry.toml`` (the Sarolangun deployment) holds, at every start: the second
  start changes nothing. The same steps as ``jagajalan registry init`` and ``jagajalan
  registry import examples/registry.toml``.
- :func:`analytics_argv`: the command line of the indicators job the demo runs next to
  ingest, ``jagajalan analytics run --clock scenario``: the demo plays its scenario faster
  than real time, so the job computes the scenario's windows (an ISPU hour is 15 s of real
  time at 240x) and writes them back at the real time each window began; a pass every
  :data:`ANALYTICS_EVERY` seconds, so the first indicators come within the demo's first
  minute.
- :func:`alerts_argv`: the command line of ``jagajalan alerts run`` on the demo's broker and
  registry, with :data:`ALERTS_EXAMPLE` (rules in real seconds suited to the scenario's
  accelerated clock) and ``--mqtt-alerts on``: what it tells goes to the MQTT alert topic
  (``jagajalan/v1/alerts/#``) and its log, both visible without internet; the indicators
  rules read the demo's store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kernel.text import Said

#: The checkout's examples (``make demo`` runs from a checkout).
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REGISTRY_EXAMPLE = EXAMPLES / "registry.toml"
ANALYTICS_EXAMPLE = EXAMPLES / "analytics.toml"
ALERTS_EXAMPLE = EXAMPLES / "alerts-demo.toml"
#: Seconds between the alerts service's evaluations in the demo.
ALERTS_EVERY = 1
REGISTRY_FILE = "registry.sqlite3"
#: Seconds between the indicators job's passes in the demo (8 scenario minutes at 240x).
ANALYTICS_EVERY = 2


@dataclass(frozen=True)
class DemoRegistry:
    path: Path
    sites: int  # sites in the registry after the import
    added: int  # rows the import added (0 on a second start)


def prepare_registry(directory: Path, example: Path = REGISTRY_EXAMPLE) -> DemoRegistry:
    """The demo's registry at the newest schema holding *example*; RuntimeError (with the
    catalogue's ``demo.registry_failed``) when it cannot be made."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # every step at INFO, from import
    from sqlalchemy.exc import SQLAlchemyError

    from kernel.config import ConfigError, load_toml
    from registry import db, document, sync

    path = directory / REGISTRY_FILE
    try:
        doc = load_toml(document.RegistryDoc, example)
        document.check(doc, str(example))
        engine = db.engine_for(f"sqlite+pysqlite:///{path}")
        try:
            db.upgrade(engine)
            plan = sync.import_rows(engine, document.to_rows(doc), False, False)
            sites = len(document.from_rows(sync.export_rows(engine))["sites"])
        finally:
            engine.dispose()
    except (ConfigError, SQLAlchemyError, OSError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeError(
            Said("demo.registry_failed", file=str(example), problem=problem)
        ) from exc
    added = sum(len(c.added) for c in plan.tables.values())
    return DemoRegistry(path, sites, added)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def analytics_argv(store_args: list[str], scenario, origin: float, registry: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """``jagajalan analytics run`` on the demo's store, on the clock of *scenario* played
    from *origin* (real time, s), with the sites' parameters of the demo's *registry*."""
    config = ["--config", str(ANALYTICS_EXAMPLE)] if ANALYTICS_EXAMPLE.exists() else []
    return [
        "analytics",
        "run",
        *store_args,
        *config,
        "--registry-db",
        str(registry),
        "--every",
        str(ANALYTICS_EVERY),
        "--clock",
        "scenario",
        "--scenario-start",
        _iso(scenario.start),
        "--scenario-origin",
        _iso(origin),
        "--scenario-speed",
        f"{scenario.speed:g}",
    ]


def alerts_argv(
    store_args: list[str], broker_url: str, registry: Path, api: str, embedded: bool
) -> list[str]:
    """``jagajalan alerts run`` for the demo: its broker (MQTT 3.1.1 for the embedded amqtt
    broker, which has no MQTT 5), registry and store; links in messages to its API."""
    protocol = ["--mqtt-protocol", "3.1.1"] if embedded else []
    return [
        "alerts",
        "run",
        "--rules-file",
        str(ALERTS_EXAMPLE),
        "--registry-db",
        str(registry),
        "--broker-url",
        broker_url,
        *protocol,
        *store_args,
        "--indicators-every",
        str(ANALYTICS_EVERY),
        "--every",
        str(ALERTS_EVERY),
        "--mqtt-alerts",
        "on",
        "--base-url",
        api,
    ]


def start_alerts(demo) -> None:  # type: ignore[no-untyped-def]
    """Start the alerts service of *demo* (a :class:`jagajalan.demo.Demo`) and wait until it
    holds its subscription: the broker keeps QoS 1 messages only for subscribers that exist."""
    argv = alerts_argv(
        demo.store_args, demo.broker_url, demo.registry.path, demo.api, demo.broker is not None
    )
    child = demo.spawn("alerts", *argv)
    demo.wait_for(lambda: "event=alerts_connected" in child.log.read_text(), 30, "alerts")
