"""Setting up InfluxDB in tests the way operators do: ``store setup`` as an admin, then each
service with its own least-privilege user (store.privileges). Services never create anything,
so a test that runs ingest against InfluxDB sets the database up first, like a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from store import setup
from store.influx import InfluxStore
from store.influxql import quote_ident, quote_string
from store.privileges import SERVICE_USERS
from store.retention import RetentionSettings
from testkit.services import Influx


def setup_database(
    url: str,
    database: str,
    *,
    username: str | None = None,
    password: str | None = None,
    users: list[setup.UserSpec] | None = None,
) -> list[setup.Statement]:
    """What ``jagajalan store setup`` does (database, retention policies, continuous queries,
    *users*), run in-process; without *username* for an InfluxDB without auth."""
    admin = InfluxStore(url, database, username=username, password=password)
    try:
        return setup.run(admin, RetentionSettings(), users or [])
    finally:
        admin.close()


@dataclass
class Secured:
    """An InfluxDB with ``auth-enabled = true``, its admin, and a password file per service
    user of store.privileges (written on first use, mode 600)."""

    server: Influx
    secrets: Path
    admin: str = "jj_admin"
    admin_password: str = field(default="Adm1n-4-Test-only", repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def create_admin(self) -> None:
        """The one statement InfluxDB takes without a login while it has no user."""
        q = f"CREATE USER {quote_ident(self.admin)} WITH PASSWORD "
        q += f"{quote_string(self.admin_password)} WITH ALL PRIVILEGES"
        r = httpx.post(f"{self.url}/query", data={"q": q}, timeout=10)
        assert r.status_code == 200 and "error" not in r.text, r.text

    def admin_file(self) -> Path:
        return self._file("admin", self.admin_password)

    def password(self, service: str) -> str:
        return f"{service}-Pw-7r1x"

    def password_file(self, service: str) -> Path:
        return self._file(service, self.password(service))

    def _file(self, name: str, secret: str) -> Path:
        path = self.secrets / f"{name}.password"
        if not path.exists():
            self.secrets.mkdir(parents=True, exist_ok=True)
            path.write_text(secret + "\n")
            path.chmod(0o600)
        return path

    def query(self, q: str, db: str | None = None) -> list[dict]:
        """Run *q* as the admin; the results (an error in one fails the test)."""
        params = {"epoch": "ms", **({"db": db} if db else {})}
        r = httpx.post(
            f"{self.url}/query",
            params=params,
            data={"q": q},
            auth=(self.admin, self.admin_password),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert not [x for x in results if "error" in x], results
        return results

    def grants(self, user: str) -> dict[str, str]:
        (result,) = self.query(f"SHOW GRANTS FOR {quote_ident(user)}")
        return {row[0]: row[1] for s in result.get("series", []) for row in s.get("values", [])}

    def users(self) -> dict[str, bool]:
        (result,) = self.query("SHOW USERS")
        return {row[0]: row[1] for s in result.get("series", []) for row in s.get("values", [])}

    def setup_args(self, database: str, *services: str) -> list[str]:
        """``jagajalan store setup`` arguments, with the password files of *services*."""
        args = ["store", "setup", "--influx-url", self.url, "--influx-db", database]
        args += ["--admin-username", self.admin, "--admin-password-file", str(self.admin_file())]
        for service in services:
            args += [f"--{service}-password-file", str(self.password_file(service))]
        return args

    def admin_store(self, database: str) -> InfluxStore:
        return InfluxStore(self.url, database, username=self.admin, password=self.admin_password)

    def store(self, service: str, database: str) -> InfluxStore:
        """An InfluxStore logged in as *service*'s user (the default name)."""
        user = next(u for u in SERVICE_USERS if u.service == service)
        return InfluxStore(
            self.url, database, username=user.default_username, password=self.password(service)
        )
