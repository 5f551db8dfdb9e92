"""Changes of one site, gateway (with its sensors) or contact: what the API's admin routes do.

Each function takes the registry file's own models (registry/document.py: the same
validation as an import), turns them into rows with :func:`document.to_rows` and writes them
in one transaction: created or replaced whole (a gateway's sensors are the ones given, the
others removed; a contact's channels likewise). References are checked here and refused
with :class:`Refused` naming the field and the value: a gateway's unknown site, a site that
still has gateways, a contact that API keys belong to. Returns whether the row was created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from registry.document import ContactDoc, GatewayDoc, RegistryDoc, SensorDoc, SiteDoc, to_rows
from registry.models import ApiKey, Contact, ContactChannel, Gateway, Sensor, Site


class Refused(ValueError):
    """A change the registry's references forbid: *field* and *value* name what is wrong;
    *conflict* True when the request is valid but the registry's state refuses it (409)."""

    def __init__(self, field: str, value: Any, message: str, conflict: bool = False) -> None:
        super().__init__(f"{field}={value!r}: {message}")
        self.field, self.value, self.message, self.conflict = field, value, message, conflict


class Missing(LookupError):
    """No such row (404)."""


def _upsert(session: Session, table: type, key: tuple[Any, ...], row: dict[str, Any]) -> bool:
    if session.get(table, key) is None:
        session.execute(insert(table), [row])
        return True
    pk = list(table.__table__.primary_key.columns)  # type: ignore[attr-defined]
    where = [c == v for c, v in zip(pk, key, strict=True)]
    values = {k: v for k, v in row.items() if k not in {c.name for c in pk}}
    session.execute(update(table).where(*where).values(values))
    return False


def put_site(engine: Engine, site: SiteDoc) -> bool:
    (row,) = to_rows(RegistryDoc(sites=[site]))[Site].values()
    with Session(engine) as session, session.begin():
        return _upsert(session, Site, (site.id,), row)


def delete_site(engine: Engine, site_id: str) -> None:
    with Session(engine) as session, session.begin():
        if session.get(Site, site_id) is None:
            raise Missing(site_id)
        held = session.scalars(select(Gateway.id).where(Gateway.site_id == site_id)).all()
        if held:
            raise Refused(
                "site",
                site_id,
                f"the site still has gateways ({', '.join(sorted(held))}): move or delete "
                "them first",
                conflict=True,
            )
        session.execute(delete(Site).where(Site.id == site_id))


def put_gateway(engine: Engine, gateway: GatewayDoc, sensors: Sequence[SensorDoc]) -> bool:
    rows = to_rows(RegistryDoc(gateways=[gateway], sensors=list(sensors)))
    seen: set[str] = set()
    for i, s in enumerate(sensors):
        if s.id in seen:
            raise Refused(f"sensors[{i}].id", s.id, "two sensors of this gateway have this id")
        seen.add(s.id)
    with Session(engine) as session, session.begin():
        if gateway.site is not None and session.get(Site, gateway.site) is None:
            raise Refused("site", gateway.site, "the registry has no such site (see GET /sites)")
        created = _upsert(session, Gateway, (gateway.id,), rows[Gateway][(gateway.id,)])
        session.execute(delete(Sensor).where(Sensor.gateway_id == gateway.id))
        if rows[Sensor]:
            session.execute(insert(Sensor), list(rows[Sensor].values()))
        return created


def delete_gateway(engine: Engine, gateway_id: str) -> None:
    with Session(engine) as session, session.begin():
        if session.get(Gateway, gateway_id) is None:
            raise Missing(gateway_id)
        session.execute(delete(Sensor).where(Sensor.gateway_id == gateway_id))
        session.execute(delete(Gateway).where(Gateway.id == gateway_id))


def put_contact(engine: Engine, contact: ContactDoc) -> bool:
    rows = to_rows(RegistryDoc(contacts=[contact]))
    with Session(engine) as session, session.begin():
        created = _upsert(session, Contact, (contact.id,), rows[Contact][(contact.id,)])
        session.execute(delete(ContactChannel).where(ContactChannel.contact_id == contact.id))
        if rows[ContactChannel]:
            session.execute(insert(ContactChannel), list(rows[ContactChannel].values()))
        return created


def delete_contact(engine: Engine, contact_id: str) -> None:
    with Session(engine) as session, session.begin():
        if session.get(Contact, contact_id) is None:
            raise Missing(contact_id)
        keys = session.scalars(select(ApiKey.id).where(ApiKey.contact_id == contact_id)).all()
        if keys:
            raise Refused(
                "contact",
                contact_id,
                f"API keys belong to this contact ({', '.join(sorted(keys))}); the "
                "registry keeps them, revoked or not",
                conflict=True,
            )
        session.execute(delete(ContactChannel).where(ContactChannel.contact_id == contact_id))
        session.execute(delete(Contact).where(Contact.id == contact_id))
