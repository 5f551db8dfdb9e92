"""The registry's PostgreSQL users of deploy/postgres/roles.sql and their grants of
deploy/postgres/grants.sql, on the machine's PostgreSQL (a throw-away database; roles with a
random prefix, dropped afterwards): the owner migrates and grants, each service has only the
rows it needs (the alerts service never the API keys, the indicators job only sites and
gateways), no service can change the schema, and nobody else may even connect.
docker-compose.yml gives each service the user that deploy/postgres/init-roles.sh makes, and
runs grants.sql as the owner (checked as data, Docker does not run here)."""

from __future__ import annotations

import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from jagajalan.cli import main
from testkit import REPO
from testkit.postgres import Postgres, throwaway

ROLES_SQL = REPO / "deploy" / "postgres" / "roles.sql"
GRANTS_SQL = REPO / "deploy" / "postgres" / "grants.sql"
INIT = REPO / "deploy" / "postgres" / "init-roles.sh"
KINDS = ("owner", "api", "alerts", "analytics")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[Postgres, dict[str, str]]]:
    prefix = f"jjt_{secrets.token_hex(4)}_"
    names = {kind: prefix + kind for kind in KINDS}
    for kind in KINDS:
        (tmp_path / f"registry_{kind}_password").write_text(secrets.token_urlsafe(16) + "\n")
    with throwaway() as pg:
        variables = [f"{k}={v}" for k, v in {"db": pg.database, "secrets": tmp_path}.items()]
        variables += [f"{kind}={name}" for kind, name in names.items()]
        argv = ["psql", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.database]
        for v in variables:
            argv += ["-v", v]
        done = subprocess.run([*argv, "-f", str(ROLES_SQL)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        yield pg, names
    with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres") as admin:
        admin.autocommit = True
        for name in names.values():
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def psql(pg: Postgres, user: str, script: Path, variables: dict[str, object]) -> None:
    argv = ["psql", "-h", pg.host, "-p", str(pg.port), "-U", user, "-d", pg.database]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    done = subprocess.run([*argv, "-f", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def connect(pg: Postgres, user: str) -> psycopg.Connection:
    return psycopg.connect(host=pg.host, port=pg.port, user=user, dbname=pg.database)


def refused(pg: Postgres, user: str, statement: str) -> bool:
    with connect(pg, user) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_each_service_has_only_the_rows_it_needs(registry) -> None:
    pg, names = registry
    argv = ["registry", "upgrade", "--registry-url", pg.url]
    assert main([*argv, "--registry-username", names["owner"]]) == 0
    assert refused(pg, names["api"], "SELECT count(*) FROM sites")  # nothing before the grants
    services = {kind: names[kind] for kind in ("api", "alerts", "analytics")}
    for _ in range(2):  # idempotent: after every migration
        psql(pg, names["owner"], GRANTS_SQL, services)
    key = (
        "INSERT INTO api_keys (id, prefix, key_hash, role, created_at) "
        "VALUES ('{0}', '{0}', 'h', 'viewer', now())"
    )
    for user in ("api", "alerts", "analytics"):
        assert not refused(pg, names[user], "SELECT count(*) FROM sites"), user
        assert not refused(pg, names[user], "SELECT * FROM alembic_version"), user
        assert refused(pg, names[user], "UPDATE alembic_version SET version_num = 'x'"), user
        assert refused(pg, names[user], "CREATE TABLE mine (x int)"), user
        assert refused(pg, names[user], "DROP TABLE sites"), user
        assert refused(pg, names[user], "ALTER TABLE sites ADD COLUMN x int"), user
        assert refused(pg, names[user], "TRUNCATE alerts"), user  # rows, never the table
    assert not refused(pg, names["api"], key.format("k1"))
    assert not refused(pg, names["api"], "DELETE FROM api_keys WHERE id = 'k1'")
    assert not refused(pg, names["api"], "UPDATE sites SET name = name")
    for table in ("alerts", "silences", "leases", "alert_outbox", "alert_attempts"):
        assert not refused(pg, names["alerts"], f"DELETE FROM {table}"), table
    assert refused(pg, names["alerts"], "SELECT * FROM api_keys")
    assert refused(pg, names["alerts"], key.format("k2"))
    assert refused(pg, names["alerts"], "UPDATE sites SET name = name")
    assert not refused(pg, names["alerts"], "SELECT * FROM contact_channels")
    assert not refused(pg, names["analytics"], "SELECT * FROM gateways")
    # GET /releases reads the desired versions and node firmware; only the owner writes them.
    for table in ("desired_versions", "desired_version_gateways", "desired_firmware"):
        assert not refused(pg, names["api"], f"SELECT * FROM {table}"), table
        assert refused(pg, names["api"], f"DELETE FROM {table}"), table
        assert refused(pg, names["alerts"], f"SELECT * FROM {table}"), table
    for statement in ("SELECT * FROM api_keys", "SELECT * FROM contacts", "DELETE FROM sites"):
        assert refused(pg, names["analytics"], statement), statement


def test_grants_name_every_table_of_the_registry() -> None:
    from registry.models import Base

    text = GRANTS_SQL.read_text()
    missing = [t for t in Base.metadata.tables if not re.search(rf"\b{t}\b", text)]
    assert missing == []


def test_no_other_role_may_connect(registry) -> None:
    pg, _ = registry
    other = f"jjt_{secrets.token_hex(4)}_other"
    with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres") as admin:
        admin.autocommit = True
        admin.execute(f'CREATE ROLE "{other}" LOGIN')
    try:
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            connect(pg, other).close()
    finally:
        with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres") as a:
            a.autocommit = True
            a.execute(f'DROP ROLE "{other}"')


def init_script_roles() -> dict[str, str]:
    lines = [line for line in INIT.read_text().splitlines() if not line.startswith("#")]
    words = shlex.split("\n".join(lines).replace("\\\n", " "))
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "-v"]
    return dict(p.split("=", 1) for p in pairs if p.split("=", 1)[0] in KINDS)


def psql_users(command: str) -> dict[str, str]:
    """The users a psql command line names: -U (the owner) and its -v variables."""
    words = shlex.split(command)
    found = {"owner": words[words.index("-U") + 1]}
    found.update(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "-v")
    return found


def test_compose_gives_each_service_its_own_registry_user() -> None:
    roles = init_script_roles()
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    expected = {
        "registry-migrate": "owner",
        "api": "api",
        "alerts": "alerts",
        "analytics": "analytics",
        "dashboards-sites": "analytics",
    }
    for service, kind in expected.items():
        env = services[service]["environment"]
        assert env["JAGAJALAN_REGISTRY_USERNAME"] == roles[kind], service
        own = f"registry_{kind}_password"
        assert env["JAGAJALAN_REGISTRY_PASSWORD_FILE"] == f"/run/secrets/{own}"
        assert [s for s in services[service]["secrets"] if s.startswith("registry_")] == [own]
    holders = {
        name
        for name, svc in services.items()
        for s in svc.get("secrets", [])
        if s == "registry_owner_password"
    }
    assert holders == {"registry-migrate", "registry-grants", "postgres"}
    grants = psql_users(services["registry-grants"]["entrypoint"][-1])
    assert grants == {k: roles[k] for k in ("owner", "api", "alerts", "analytics")}
    assert re.search(r"^CREATE ROLE :\"owner\"", ROLES_SQL.read_text(), re.M)
