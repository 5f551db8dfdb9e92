"""Which InfluxDB user each JagaJalan service runs as, and the one privilege it holds.

:data:`SERVICE_USERS` is the single source of who may do what: ``jagajalan store setup``
creates these users and sets their grants to exactly this (the privilege on the JagaJalan
database, nothing on any other, never admin); the services' start-up messages name the missing
privilege and the command that grants it; the least-privilege tests run each service with
exactly this privilege on a real InfluxDB with ``auth-enabled = true``; and the table in
docs/scaling.md is :func:`markdown_table` (a test compares them).

Pure: no I/O.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from store.base import (
    MISSING_DATABASE,
    MISSING_LOGIN,
    MISSING_READ,
    MISSING_WRITE,
    StoreNotReady,
)

READ = "READ"
WRITE = "WRITE"
ALL = "ALL"  # READ and WRITE on the one database (InfluxQL's `GRANT ALL ON <db>`), never admin
#: How SHOW GRANTS shows each privilege.
SHOWN = {READ: READ, WRITE: WRITE, ALL: "ALL PRIVILEGES"}
#: What each privilege means, for people.
_MEANS = {READ: READ, WRITE: WRITE, ALL: "READ and WRITE (ALL)"}


@dataclass(frozen=True)
class ServiceUser:
    service: str  # also the prefix of its `store setup` options: --<service>-password-file
    privilege: str  # what `GRANT <privilege> ON <database>` gives it: READ, WRITE or ALL
    needs: str  # what it does with the privilege, for the docs

    @property
    def default_username(self) -> str:
        return f"jagajalan_{self.service}"


SERVICE_USERS: tuple[ServiceUser, ...] = (
    ServiceUser("ingest", WRITE, "writes readings, gateway status and batch points"),
    ServiceUser("api", READ, "serves latest readings and gateways"),
    ServiceUser(
        "alerts",
        ALL,
        "reads the indicators its rules watch, writes the active alerts' counts"
        " (`jagajalan_alerts_active`)",
    ),
    ServiceUser("grafana", READ, "dashboards (Grafana's InfluxDB data source)"),
    ServiceUser(
        "analytics", ALL, "reads readings, writes the indicators it derives (`jagajalan_*`)"
    ),
)

SERVICES = {u.service: u for u in SERVICE_USERS}


def markdown_table() -> str:
    """The privileges table of docs/scaling.md, generated from :data:`SERVICE_USERS`."""
    lines = [
        "| service | InfluxDB user (default) | privilege on the database | for |",
        "|---|---|---|---|",
    ]
    for u in SERVICE_USERS:
        lines.append(f"| {u.service} | `{u.default_username}` | {u.privilege} | {u.needs} |")
    return "\n".join(lines)


def fix_command(service: str, influx_url: str, database: str, username: str | None) -> str:
    """The ``jagajalan store setup`` command line that creates the database and gives
    *service*'s user its privilege (placeholders in angle brackets for the secrets)."""
    parts = [
        "jagajalan store setup",
        f"--influx-url {shlex.quote(influx_url)}",
        f"--influx-db {shlex.quote(database)}",
        "--admin-username <admin> --admin-password-file <file>",
    ]
    user = SERVICES[service]
    if username is not None and username != user.default_username:
        parts.append(f"--{service}-username {shlex.quote(username)}")
    parts.append(f"--{service}-password-file <file holding {service}'s password>")
    return " ".join(parts)


def _owner(username: str | None) -> str | None:
    """The service whose default user *username* is, if any."""
    return next((u.service for u in SERVICE_USERS if u.default_username == username), None)


def explain(service: str, exc: StoreNotReady, influx_url: str) -> str:
    """One line for *service*'s log: what is missing (from *exc*, which names the database and
    the user), what the service needs, and the command that fixes it. Never a secret."""
    privilege = SERVICES[service].privilege
    need = _MEANS[privilege]
    if exc.user is None and exc.missing != MISSING_DATABASE:
        # A token (InfluxDB 2.x/3.x) or no login: no InfluxQL user to create or grant.
        access = {READ: "read", WRITE: "write to", ALL: "read and write to"}[privilege]
        fix = (
            f"give {service} a token that may {access} the bucket mapped to {exc.database!r}, "
            f"or the login of the user `jagajalan store setup --{service}-password-file` creates"
        )
    elif _owner(exc.user) not in (None, service):
        own = SERVICES[service].default_username
        fix = (
            f"this is {_owner(exc.user)}'s user: give {service} its own ({own}), made by "
            + fix_command(service, influx_url, exc.database, own)
        )
    else:
        fix = fix_command(service, influx_url, exc.database, exc.user)
    return f"{exc}; {service} needs {need} on {exc.database!r}; fix: {fix}"


_PUBLIC_REASONS = {
    MISSING_DATABASE: "the database does not exist yet (an admin runs `jagajalan store setup`)",
    MISSING_LOGIN: "the store refused this service's login (no such user, or another password)",
    MISSING_READ: "this service's user may not read the database (it needs READ)",
    MISSING_WRITE: "this service's user may not write to the database (it needs WRITE)",
}


def public_reason(exc: StoreNotReady) -> str:
    """What is missing, for a health endpoint anyone may call: no host, user or database."""
    return _PUBLIC_REASONS.get(exc.missing, "the store is not set up for this service")
