"""``jagajalan store setup``: make an InfluxDB 1.x database ready for JagaJalan, as an admin.

What it guarantees, run with admin credentials (once per deployment and after every change of
settings; running it again is always safe):

- The database exists, with the retention policies and continuous queries of
  :mod:`store.retention`: missing ones are created, ones that differ from the settings are
  altered (policies) or dropped and created again (queries); nothing else is touched.
- Every service user whose password is given exists with that password, and its grants are
  exactly those of :data:`store.privileges.SERVICE_USERS`: its privilege on this database,
  no privilege on any other database, not admin. A user whose password is not given is left
  alone (the set-up of one service never needs another's secret).
- A second run with the same settings runs nothing but ``SET PASSWORD`` for the users given
  (InfluxDB cannot show a password, so it is set again to the same value).
- Secrets never leave the statement text: what is printed, logged or put into an error is
  :attr:`Statement.shown`, with every password as ``'***'``. Statements travel one by one in
  the request body, never in a URL.

The plan is pure (:func:`plan`: the server's state and the settings in, statements out); the
state is read and the statements are run through an admin's :class:`~store.influx.InfluxStore`.
Services never import this module: they run with the users it makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from store import retention
from store.influx import InfluxStore
from store.influxql import quote_ident, quote_string
from store.privileges import SHOWN
from store.retention import RetentionSettings

MASK = "'***'"


@dataclass(frozen=True)
class Statement:
    text: str = field(repr=False)  # what InfluxDB runs; may hold a password
    shown: str  # what people see: the same with passwords masked
    tolerate: tuple[str, ...] = ()  # errors that mean "already done" (another admin raced us)


@dataclass(frozen=True)
class UserSpec:
    name: str
    privilege: str  # READ, WRITE or ALL (store.privileges)
    password: str = field(repr=False)


@dataclass
class ServerState:
    """What the server shows, as far as the set-up is concerned."""

    databases: set[str] = field(default_factory=set)
    users: dict[str, bool] = field(default_factory=dict)  # user -> admin
    grants: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> db -> privilege
    policies: dict[str, list] = field(default_factory=dict)  # SHOW RETENTION POLICIES rows
    queries: dict[str, str] = field(default_factory=dict)  # this database's CQ -> its text


def _plain(statement: str, tolerate: tuple[str, ...] = ()) -> Statement:
    return Statement(statement, statement, tolerate)


def user_statements(database: str, user: UserSpec, state: ServerState) -> list[Statement]:
    """Create *user* (or set its password) and make its grants exactly ``user.privilege`` on
    *database*: no admin, nothing on other databases. GRANT replaces a user's privilege on a
    database (measured on 1.6: GRANT READ to a WRITE user leaves READ), so one GRANT sets it.
    SHOW GRANTS shows ALL as "ALL PRIVILEGES" (:data:`store.privileges.SHOWN`)."""
    name = quote_ident(user.name)
    secret = quote_string(user.password)
    out = []
    if user.name in state.users:
        out.append(
            Statement(f"SET PASSWORD FOR {name} = {secret}", f"SET PASSWORD FOR {name} = {MASK}")
        )
    else:
        out.append(
            Statement(
                f"CREATE USER {name} WITH PASSWORD {secret}",
                f"CREATE USER {name} WITH PASSWORD {MASK}",
            )
        )
    if state.users.get(user.name):
        out.append(_plain(f"REVOKE ALL PRIVILEGES FROM {name}"))  # takes admin away
    grants = state.grants.get(user.name, {})
    for db, privilege in sorted(grants.items()):
        if db != database and privilege != "NO PRIVILEGES":
            out.append(_plain(f"REVOKE ALL PRIVILEGES ON {quote_ident(db)} FROM {name}"))
    if grants.get(database) != SHOWN.get(user.privilege, user.privilege):
        out.append(_plain(f"GRANT {user.privilege} ON {quote_ident(database)} TO {name}"))
    return out


def plan(
    database: str, settings: RetentionSettings, users: Sequence[UserSpec], state: ServerState
) -> list[Statement]:
    """Every statement that makes the server match the settings, in order; empty when it does
    (but for the passwords of *users*, which are always set)."""
    out = []
    if database not in state.databases:
        out.append(_plain(f"CREATE DATABASE {quote_ident(database)}"))
    for statement in retention.policy_statements(database, settings, state.policies):
        out.append(_plain(statement, ("already exists",)))
    for statement in retention.query_statements(database, settings, state.queries):
        dropping = statement.startswith("DROP")
        out.append(_plain(statement, ("not found",) if dropping else ("already exists",)))
    for user in users:
        out.extend(user_statements(database, user, state))
    return out


# -- I/O -------------------------------------------------------------------------------------


def _rows(result: dict) -> list[list]:
    return [row for series in result.get("series", []) for row in series.get("values", [])]


def read_state(admin: InfluxStore, users: Iterable[str]) -> ServerState:
    """The databases, users, the grants of *users*, and this database's retention policies and
    continuous queries. Raises StoreAuthFailed if *admin* is not an admin."""
    db = admin.database
    (dbs,) = admin.execute("SHOW DATABASES")
    state = ServerState(databases={row[0] for row in _rows(dbs)})
    (shown_users,) = admin.execute("SHOW USERS")
    state.users = {row[0]: bool(row[1]) for row in _rows(shown_users)}
    for name in users:
        if name in state.users:
            (grants,) = admin.execute(f"SHOW GRANTS FOR {quote_ident(name)}")
            state.grants[name] = {row[0]: row[1] for row in _rows(grants)}
    if db in state.databases:
        (rps,) = admin.execute(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
        state.policies = {row[0]: row for row in _rows(rps)}
    (cqs,) = admin.execute("SHOW CONTINUOUS QUERIES")
    state.queries = {
        row[0]: row[1]
        for series in cqs.get("series", [])
        if series.get("name") == db
        for row in series.get("values", [])
    }
    return state


def run(
    admin: InfluxStore,
    settings: RetentionSettings,
    users: Sequence[UserSpec],
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Statement]:
    """Read the state, plan, and run the plan one statement at a time (only report it with
    *dry_run*). Returns the statements. Raises StoreError (with :attr:`Statement.shown` in its
    message, never a password) on the first statement InfluxDB refuses."""
    state = read_state(admin, [u.name for u in users])
    statements = plan(admin.database, settings, users, state)
    for statement in statements:
        if not dry_run:
            admin.execute(statement.text, tolerate=statement.tolerate, shown=statement.shown)
        progress(("would run: " if dry_run else "ran: ") + statement.shown)
    return statements
