"""Import and export of the whole registry: the file's rows against the database's.

:func:`plan` compares, per table and primary key, what the file holds with what the database
holds: added, changed, unchanged, and (only with ``prune``) removed. :func:`apply` makes the
changes in one transaction, rows added in the order of the references (sites before their
gateways...) and removed in the reverse. Importing the same file twice changes nothing the
second time: its plan is all unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from registry.document import Rows
from registry.models import FILE_TABLES, Base


@dataclass
class TableChanges:
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[tuple[Any, ...]] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Plan:
    tables: dict[type[Base], TableChanges]

    @property
    def empty(self) -> bool:
        return not any(t.added or t.changed or t.removed for t in self.tables.values())


def _pk(table: type[Base]) -> list[Any]:
    return list(table.__table__.primary_key.columns)


def read(session: Session) -> Rows:
    """Every row of the file's tables, by primary key."""
    rows: Rows = {}
    for table in FILE_TABLES:
        columns = list(table.__table__.columns)
        found = session.execute(select(*columns)).mappings()
        keys = [c.name for c in _pk(table)]
        rows[table] = {tuple(r[k] for k in keys): dict(r) for r in found}
    return rows


def plan(wanted: Rows, have: Rows, prune: bool = False) -> Plan:
    tables: dict[type[Base], TableChanges] = {}
    for table in FILE_TABLES:
        changes = TableChanges()
        old = have.get(table, {})
        for key, row in wanted.get(table, {}).items():
            if key not in old:
                changes.added.append(row)
            elif old[key] != row:
                changes.changed.append(row)
            else:
                changes.unchanged += 1
        if prune:
            changes.removed = [key for key in old if key not in wanted.get(table, {})]
        tables[table] = changes
    return Plan(tables)


def apply(session: Session, todo: Plan) -> None:
    for table in reversed(FILE_TABLES):
        pk = _pk(table)
        for key in todo.tables[table].removed:
            session.execute(delete(table).where(*(c == v for c, v in zip(pk, key, strict=True))))
    for table in FILE_TABLES:
        changes = todo.tables[table]
        if changes.added:
            session.execute(insert(table), changes.added)
        pk = _pk(table)
        for row in changes.changed:
            where = [c == row[c.name] for c in pk]
            values = {k: v for k, v in row.items() if k not in {c.name for c in pk}}
            session.execute(update(table).where(*where).values(values))


def import_rows(engine: Engine, wanted: Rows, prune: bool = False, dry_run: bool = False) -> Plan:
    """Brings the database to *wanted*; returns what changed (or would, with *dry_run*)."""
    with Session(engine) as session, session.begin():
        todo = plan(wanted, read(session), prune)
        if not dry_run and not todo.empty:
            apply(session, todo)
    return todo


def export_rows(engine: Engine) -> Rows:
    with Session(engine) as session:
        return read(session)
