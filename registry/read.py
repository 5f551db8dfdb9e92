"""The registry as the API reads it: sites with their gateways and sensors, as plain values
(registry/facts.py is the indicators job's view: each gateway's site).

:class:`RegistryReader` is the small read interface the API holds (``create_app(...,
registry=...)``): :meth:`~RegistryReader.sites` and :meth:`~RegistryReader.site` answer
frozen dataclasses, never ORM objects, so nothing outside this module holds a session. The
whole site list is read with three SELECTs (sites, gateways, sensors) whatever the number of
sites, and kept for ``cache_seconds`` (a page that refreshes every few seconds costs the
database nothing more); :meth:`~RegistryReader.forget` drops it after a write.

A database that cannot be reached, or is not migrated, raises :class:`RegistryUnavailable`
(the API answers 503 ``registry_unavailable``); its text names the fixing command when there
is one, never a password (SQLAlchemy's URLs hide it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from registry.models import Gateway, Sensor, Site

#: The levels of each flood ladder above normal, lowest first (analytics.flood's keys), and
#: the unit of its thresholds.
LADDER_LEVELS = {
    "road_depth": (("waspada", "siaga", "awas"), "cm"),
    "river_gauge": (("siaga_3", "siaga_2", "siaga_1"), "m"),
}


class RegistryUnavailable(RuntimeError):
    """The registry's database cannot be read now (down, or not migrated)."""


@dataclass(frozen=True)
class SensorRecord:
    id: str
    device: str
    profile: str | None


@dataclass(frozen=True)
class GatewayRecord:
    id: str
    sensors: tuple[SensorRecord, ...]


@dataclass(frozen=True)
class Threshold:
    status: str  # the level reached from this value up: waspada, siaga_3, ...
    value: float


@dataclass(frozen=True)
class Ladder:
    kind: str  # road_depth (cm of water on the road) or river_gauge (m)
    unit: str
    thresholds: tuple[Threshold, ...]  # rising

    def status(self, code: int) -> str:
        """The status of level *code* (0: normal, 1..3: the thresholds')."""
        return "normal" if code <= 0 else self.thresholds[min(code, 3) - 1].status


@dataclass(frozen=True)
class SiteRecord:
    id: str
    name: str
    road: str
    segment: str | None
    kecamatan: str
    latitude: float
    longitude: float
    road_type: str | None
    capacity_smp_per_hour: float | None
    flood: Ladder | None
    gateways: tuple[GatewayRecord, ...]


def ladder_of(kind: str | None, levels: tuple[float | None, ...]) -> Ladder | None:
    if kind not in LADDER_LEVELS or any(v is None for v in levels):
        return None
    keys, unit = LADDER_LEVELS[kind]
    steps = tuple(Threshold(k, float(v)) for k, v in zip(keys, levels, strict=True))  # type: ignore[arg-type]
    return Ladder(kind, unit, steps)


class RegistryReader:
    """Sites, gateways and sensors of the registry behind *engine* (module docstring)."""

    def __init__(self, engine: Engine, cache_seconds: float = 5.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, tuple[SiteRecord, ...]] | None = None

    def __repr__(self) -> str:  # the URL without its password
        return f"RegistryReader({self.engine.url.render_as_string(hide_password=True)!r})"

    def forget(self) -> None:
        """Drop the cached site list (after a write through this process)."""
        with self._lock:
            self._cached = None

    def sites(self) -> list[SiteRecord]:
        """Every site, by id, with its gateways (by id) and their sensors (by id)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] > now:
            return list(cached[1])
        sites = self._read()
        with self._lock:
            self._cached = (now + self.cache_seconds, sites)
        return list(sites)

    def site(self, site_id: str) -> SiteRecord | None:
        return next((s for s in self.sites() if s.id == site_id), None)

    def desired(self) -> list[Any]:
        """Every gateway's desired release (registry/desired.py: ``Desired``), uncached."""
        from registry.desired import desired

        try:
            return desired(self.engine)
        except SQLAlchemyError as exc:
            raise RegistryUnavailable(self._why(exc)) from None

    def desired_firmware(self) -> tuple[list[Any], list[Any]]:
        """Desired node firmware per profile and the sensors of those profiles
        (registry/desired.py: ``desired_firmware``), uncached."""
        from registry.desired import desired_firmware

        try:
            return desired_firmware(self.engine)
        except SQLAlchemyError as exc:
            raise RegistryUnavailable(self._why(exc)) from None

    def _read(self) -> tuple[SiteRecord, ...]:
        try:
            with self.engine.connect() as connection:
                sites = (
                    connection.execute(select(Site.__table__).order_by(Site.id)).mappings().all()
                )
                gateways = connection.execute(
                    select(Gateway.id, Gateway.site_id).order_by(Gateway.id)
                ).all()
                sensors = connection.execute(
                    select(Sensor.gateway_id, Sensor.id, Sensor.device, Sensor.profile).order_by(
                        Sensor.gateway_id, Sensor.id
                    )
                ).all()
        except SQLAlchemyError as exc:
            raise RegistryUnavailable(self._why(exc)) from None
        by_gateway: dict[str, list[SensorRecord]] = {}
        for gateway_id, sensor_id, device, profile in sensors:
            by_gateway.setdefault(gateway_id, []).append(SensorRecord(sensor_id, device, profile))
        by_site: dict[str, list[GatewayRecord]] = {}
        for gateway_id, site_id in gateways:
            if site_id is not None:
                facts = GatewayRecord(gateway_id, tuple(by_gateway.get(gateway_id, ())))
                by_site.setdefault(site_id, []).append(facts)
        return tuple(_site(row, tuple(by_site.get(row["id"], ()))) for row in sites)

    def _why(self, exc: SQLAlchemyError) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        try:
            from registry import db

            if db.current(self.engine) != db.head():
                return f"the registry {where} is not migrated: run jagajalan registry upgrade"
        except SQLAlchemyError:
            pass
        return f"the registry {where} cannot be read: {first}"


def _site(row: Any, gateways: tuple[GatewayRecord, ...]) -> SiteRecord:
    return SiteRecord(
        id=row["id"],
        name=row["name"],
        road=row["road"],
        segment=row["segment"],
        kecamatan=row["kecamatan"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        road_type=row["road_type"],
        capacity_smp_per_hour=row["capacity_smp_per_hour"],
        flood=ladder_of(row["flood_ladder"], (row["flood_1"], row["flood_2"], row["flood_3"])),
        gateways=gateways,
    )
