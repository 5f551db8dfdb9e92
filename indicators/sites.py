"""Site parameters from the registry: the capacity and flood ladder an admin set there.

The job's file (``--config``) gives the windows and the defaults; the registry
(``--registry-db`` / ``--registry-url``, the same options as ``jagajalan registry``) gives
each gateway's site: its capacity in smp/jam and its flood ladder. A ``[[sites]]`` entry of
the file for the same gateway overrides what it sets (e.g. a PKJI road type for the ekr, a
site's own hysteresis), so a file written before the registry keeps working.

Ladders: water on the road (``road_depth``, cm) becomes waspada / siaga / awas; a river gauge
(``river_gauge``, thresholds in m) becomes Siaga III / II / I in cm, the unit the gauge's
``water_level.level`` readings have (telemetry/units.py).

:class:`RegistrySites` reads the registry again before each pass of ``analytics run``, so a
change takes effect without a restart; when the registry cannot be read the job logs it and
keeps the parameters it read last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from analytics import flood
from indicators.config import IndicatorsConfig, Site

if TYPE_CHECKING:
    from registry.facts import SiteFacts

log = logging.getLogger("indicators")


def site_from(facts: SiteFacts) -> Site:
    """The job's parameters of one registry site (ValidationError if they cannot hold)."""
    levels = None
    if facts.flood is not None:
        kind, *thresholds = facts.flood
        levels = flood.site_levels(kind, thresholds)
    return Site(gateway=facts.gateway, capacity=facts.capacity_smp_per_hour, flood_levels=levels)


def merged(config: IndicatorsConfig, registry: Mapping[str, SiteFacts]) -> IndicatorsConfig:
    """*config* with the registry's sites; the file's entry for a gateway wins where it sets a
    value. A registry site whose values cannot hold is logged and left out."""
    own = {s.gateway: s for s in config.sites}
    sites: list[Site] = []
    for gateway, facts in sorted(registry.items()):
        try:
            site = site_from(facts)
        except ValidationError as exc:
            log.warning(
                "event=indicators_registry_site_refused gateway=%s site=%s error=%r",
                gateway,
                facts.site,
                str(exc).splitlines()[0],
            )
            continue
        mine = own.pop(gateway, None)
        if mine is not None:
            site = site.model_copy(update=mine.model_dump(exclude_unset=True))
        sites.append(site)
    return config.model_copy(update={"sites": [*sites, *own.values()]})


def read_registry(settings: Any) -> dict[str, SiteFacts] | None:
    """The registry's sites by gateway; None when there is no registry (no PostgreSQL URL and
    no SQLite file). Raises what SQLAlchemy raises when it cannot be read."""
    if settings.registry_url is None and not settings.registry_db.exists():
        return None
    from registry import db, facts

    engine = db.engine_for(settings.database_url())
    try:
        return facts.gateway_sites(engine)
    finally:
        engine.dispose()


class RegistrySites:
    """The job's config with the registry's sites, read again at each call (module docstring)."""

    def __init__(
        self,
        config: IndicatorsConfig,
        settings: Any,
        read: Callable[[Any], dict[str, SiteFacts] | None] = read_registry,
    ) -> None:
        self.config, self.settings, self.read = config, settings, read
        self.last = config
        self.seen: int | None = None  # sites read last time (logged when it changes)

    def __call__(self) -> IndicatorsConfig:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            registry = self.read(self.settings)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("event=indicators_registry_unreadable error=%r", str(exc).splitlines()[0])
            return self.last
        count = 0 if registry is None else len(registry)
        if count != self.seen:
            url = self.settings.database_url()
            where = "none" if registry is None else url.render_as_string(hide_password=True)
            log.info("event=indicators_sites registry=%s gateways=%d", where, count)
            self.seen = count
        self.last = self.config if registry is None else merged(self.config, registry)
        return self.last
