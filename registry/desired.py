"""Desired gateway versions per rollout group (issue 14, section 6): what
``jagajalan firmware rollout`` records when it commands a group, and what the API compares
with each gateway's reported version (``GET /releases``).

:func:`set_group` makes *gateways* the members of *group* (moving them out of any other group:
a gateway has one desired version, the latest rollout's) and sets the group's version, in one
transaction. :func:`desired` reads every gateway's desired version as plain values.

Sensor node firmware: :func:`set_firmware` records the firmware the nodes of a sensor profile
should run (``jagajalan registry firmware set``); :func:`desired_firmware` reads them with the
registered sensors of those profiles, which the API compares with the firmware each node's
gateway reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from registry.models import DesiredFirmware, DesiredMember, DesiredVersion, Sensor


@dataclass(frozen=True)
class Desired:
    gateway: str
    group: str
    version: str
    counter: int
    rollout: str
    set_at: dt.datetime


def set_group(
    engine: Engine,
    group: str,
    gateways: Sequence[str],
    *,
    version: str,
    counter: int,
    rollout: str,
    now: dt.datetime | None = None,
) -> None:
    now = now or dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        found = connection.execute(
            select(DesiredVersion.group_name).where(DesiredVersion.group_name == group)
        ).first()
        values = {"version": version, "counter": counter, "rollout": rollout, "set_at": now}
        table = DesiredVersion.__table__
        if found is None:
            connection.execute(table.insert().values(group_name=group, **values))
        else:
            connection.execute(table.update().where(table.c.group_name == group).values(**values))
        members = DesiredMember.__table__
        connection.execute(delete(members).where(members.c.gateway_id.in_(list(gateways))))
        connection.execute(delete(members).where(members.c.group_name == group))
        if gateways:
            rows = [{"gateway_id": g, "group_name": group} for g in gateways]
            connection.execute(members.insert(), rows)


def desired(engine: Engine) -> list[Desired]:
    """Every gateway with a desired version, by gateway id."""
    query = (
        select(
            DesiredMember.gateway_id,
            DesiredVersion.group_name,
            DesiredVersion.version,
            DesiredVersion.counter,
            DesiredVersion.rollout,
            DesiredVersion.set_at,
        )
        .join(DesiredVersion, DesiredVersion.group_name == DesiredMember.group_name)
        .order_by(DesiredMember.gateway_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    out = []
    for gateway, group, version, counter, rollout, set_at in rows:
        if set_at.tzinfo is None:  # SQLite gives back naive times: they were stored in UTC
            set_at = set_at.replace(tzinfo=dt.UTC)
        out.append(Desired(gateway, group, version, counter, rollout, set_at))
    return out


# -- sensor node firmware per sensor profile --------------------------------------------------


@dataclass(frozen=True)
class FirmwareWanted:
    profile: str
    version: str
    set_at: dt.datetime


@dataclass(frozen=True)
class NodeWanted:
    """A registered sensor whose profile has a desired firmware."""

    gateway: str
    sensor: str
    profile: str
    version: str


def set_firmware(
    engine: Engine, profile: str, version: str, now: dt.datetime | None = None
) -> None:
    """The nodes of *profile* should run firmware *version* (replaces the one set before)."""
    now = now or dt.datetime.now(dt.UTC)
    table = DesiredFirmware.__table__
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.profile == profile))
        connection.execute(table.insert().values(profile=profile, version=version, set_at=now))


def clear_firmware(engine: Engine, profile: str) -> bool:
    """No desired firmware for *profile* any more; False when it had none."""
    table = DesiredFirmware.__table__
    with engine.begin() as connection:
        return connection.execute(delete(table).where(table.c.profile == profile)).rowcount > 0


def desired_firmware(engine: Engine) -> tuple[list[FirmwareWanted], list[NodeWanted]]:
    """Every profile's desired firmware (by profile), and the registered sensors of those
    profiles (by gateway, sensor)."""
    nodes = (
        select(Sensor.gateway_id, Sensor.id, Sensor.profile, DesiredFirmware.version)
        .join(DesiredFirmware, DesiredFirmware.profile == Sensor.profile)
        .order_by(Sensor.gateway_id, Sensor.id)
    )
    with engine.connect() as connection:
        wanted = connection.execute(
            select(
                DesiredFirmware.profile, DesiredFirmware.version, DesiredFirmware.set_at
            ).order_by(DesiredFirmware.profile)
        ).all()
        sensors = connection.execute(nodes).all()
    return (
        [FirmwareWanted(p, v, _utc(at)) for p, v, at in wanted],
        [NodeWanted(*row) for row in sensors],
    )


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
