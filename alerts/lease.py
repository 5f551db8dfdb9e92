"""Which alerts instance acts: a lease row in the registry's database.

Every instance evaluates every message; the one holding the lease writes alerts and
notifications. It renews the lease on each evaluation; when it stops renewing (killed, cut
off from the database) the lease expires after ``ttl_s`` and another instance takes it. One
conditional UPDATE takes or renews it (mine, or expired), so two instances never both hold
it: the database serialises the writes. Clocks of the instances must agree to well within
``ttl_s`` (NTP), as the expiry is compared with the taker's clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.models import LeaseRow


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def hold(engine: Engine, name: str, holder: str, now_s: float, ttl_s: float) -> bool:
    """Take or renew the lease *name* for *holder* until now + *ttl_s*: True if it holds it."""
    until = _time(now_s + ttl_s)
    with Session(engine) as session, session.begin():
        taken = session.execute(
            update(LeaseRow)
            .where(
                LeaseRow.name == name,
                or_(LeaseRow.holder == holder, LeaseRow.expires_at < _time(now_s)),
            )
            .values(holder=holder, expires_at=until)
        )
        if taken.rowcount:
            return True
    try:
        with Session(engine) as session, session.begin():
            session.add(LeaseRow(name=name, holder=holder, expires_at=until))
    except IntegrityError:
        return False  # the row exists: another holder's, not expired
    return True


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop): a standby takes it on its next evaluation."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(expires_at=_time(0))
        )
