"""Desired gateway versions per rollout group (issue 14, section 6): what
``jagajalan firmware rollout`` records when it commands a group, and what the API compares
with each gateway's reported version (``GET /releases``).

:func:`set_group` makes *gateways* the members of *group* (moving them out of any other group:
a gateway has one desired version, the latest rollout's) and sets the group's version, in one
transaction. :func:`desired` reads every gateway's desired version as plain values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from registry.models import DesiredMember, DesiredVersion


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
