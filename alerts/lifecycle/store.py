"""The alerts' lifecycle in the registry's database (tables ``alerts`` and ``silences``,
registry/models.py, migration 0003): what the service keeps, and what the API and the CLI
read and acknowledge.

The service owns an alert's evaluation state; the acknowledgement comes from outside (API,
CLI: registry/alerts.py writes it in one conditional UPDATE, only on a firing alert), and the
service reads it back before each evaluation (:func:`sync`), so repeats stop within one
evaluation. Times are stored timezone-aware and read back as UTC (SQLite drops the zone).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alerts.lifecycle.policy import Alert, Lifecycle, Silence
from registry.models import AlertRow, SilenceRow


def _time(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _seconds(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def to_row(alert: Alert) -> AlertRow:
    return AlertRow(
        id=alert.id,
        rule=alert.rule,
        gateway=alert.gateway,
        sensor=alert.sensor,
        level=alert.level,
        severity=alert.severity,
        value=None if alert.value is None else str(alert.value)[:200],
        state=alert.state,
        raised_at=_time(alert.raised_at),
        since=_time(alert.since),
        step=alert.step,
        last_told=_time(alert.last_told),
        seq=alert.seq,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=_time(alert.acknowledged_at),
        resolved_at=_time(alert.resolved_at),
    )


def from_row(row: AlertRow) -> Alert:
    value: float | str | None = row.value
    with contextlib.suppress(ValueError):  # a text value (a state, a category) stays text
        value = float(row.value) if row.value is not None else None
    return Alert(
        id=row.id,
        rule=row.rule,
        gateway=row.gateway,
        sensor=row.sensor,
        level=row.level,
        severity=row.severity,
        value=value,
        raised_at=_seconds(row.raised_at) or 0.0,
        state=row.state,  # type: ignore[arg-type]
        since=_seconds(row.since) or 0.0,
        step=row.step,
        last_told=_seconds(row.last_told) or 0.0,
        seq=row.seq,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=_seconds(row.acknowledged_at),
        resolved_at=_seconds(row.resolved_at),
    )


def save(session: Session, alerts: Iterable[Alert]) -> None:
    """Write *alerts* as they are now (insert or replace), in the caller's transaction, so
    that an alert's change and the notifications it makes are written together."""
    for alert in alerts:
        session.merge(to_row(alert))


def open_alerts(engine: Engine) -> list[Alert]:
    """Every alert not resolved (what the service restores at start)."""
    with Session(engine) as session:
        rows = session.scalars(select(AlertRow).where(AlertRow.state != "resolved"))
        return [from_row(r) for r in rows]


def sync(engine: Engine, lifecycle: Lifecycle) -> list[Alert]:
    """Take acknowledgements written by the API or the CLI into *lifecycle*; the alerts that
    changed."""
    firing = {a.id: a for a in lifecycle.open.values() if a.state == "firing"}
    if not firing:
        return []
    query = select(AlertRow.id, AlertRow.acknowledged_by, AlertRow.acknowledged_at).where(
        AlertRow.state == "acknowledged", AlertRow.id.in_(list(firing))
    )
    changed = []
    with Session(engine) as session:
        for alert_id, by, at in session.execute(query):
            alert = firing[alert_id]
            alert.state, alert.acknowledged_by = "acknowledged", by
            alert.acknowledged_at = _seconds(at)
            changed.append(alert)
    return changed


# -- silences ------------------------------------------------------------------------------
def add_silence(engine: Engine, silence: Silence, now_s: float) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            SilenceRow(
                id=silence.id,
                rule=silence.rule,
                gateway=silence.gateway,
                site=silence.site,
                until=_time(silence.until_s),
                created_by=silence.by,
                reason=silence.reason,
                created_at=_time(now_s),
            )
        )


def silences(engine: Engine, now_s: float) -> Sequence[Silence]:
    """The silences that have not expired at *now_s*."""
    with Session(engine) as session:
        rows = session.scalars(select(SilenceRow).where(SilenceRow.until > _time(now_s)))
        return [
            Silence(
                id=r.id,
                until_s=_seconds(r.until) or 0.0,
                rule=r.rule,
                gateway=r.gateway,
                site=r.site,
                by=r.created_by,
                reason=r.reason,
            )
            for r in rows
        ]
