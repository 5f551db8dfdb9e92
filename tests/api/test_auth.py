"""Keys and roles on the API (issue 11, section 2): 401 without a valid key, 403 for a role
too low, public read groups only when configured, 429 with Retry-After per key and per
address, keys from a real registry (SQLite, migrated by Alembic) and checked with scrypt once,
then cached (the cost per request is measured and printed)."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter
from sqlalchemy import Engine

from api.access import ROLES, Access, Buckets, Caller, Limits, registry_check
from api.app import create_app
from api.auth import requires
from registry import db, keys
from registry.models import ROLES as REGISTRY_ROLES
from store.sqlite import SQLiteStore

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

DATA = ["/gateways", "/gateways/srl-pasar-01", "/readings/latest", "/conditions"]
DATA += ["/series?measurement=air_quality&field=pm25", "/series"]
OPEN = ["/", "/health", "/docs", "/openapi.json", "/metrics"]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "store.sqlite")
    s.ensure()
    yield s
    s.close()


@pytest.fixture
def made(registry: Engine) -> dict[str, str]:
    """A key of each role: role -> the whole key."""
    return {role: keys.create(registry, role, f"{role}-key")[1] for role in ROLES}


def app_with(store: SQLiteStore, registry: Engine, **kw: object) -> TestClient:
    access = Access(registry_check(registry), engine=registry, **kw)  # type: ignore[arg-type]
    return TestClient(create_app(store, access=access))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_roles_are_the_registry_s() -> None:
    assert ROLES == REGISTRY_ROLES


def test_without_a_key_data_is_401_with_a_challenge(store, registry, made) -> None:
    client = app_with(store, registry)
    for path in [*DATA, "/whoami", "/keys"]:
        r = client.get(path)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), path
        assert (
            r.json()["error"] == "unauthorized" and "Authorization: Bearer" in r.json()["message"]
        )
    for path in OPEN:  # open whatever the settings
        assert client.get(path).status_code == 200, path


def test_a_key_opens_data_as_bearer_or_x_api_key(store, registry, made) -> None:
    client = app_with(store, registry)
    assert client.get("/gateways", headers=bearer(made["viewer"])).json() == []
    assert client.get("/gateways", headers={"X-API-Key": made["viewer"]}).json() == []
    who = client.get("/whoami", headers={"X-API-Key": made["operator"]}).json()
    prefix = made["operator"].split("_")[1]
    assert who == {"name": "operator-key", "prefix": prefix, "role": "operator"}


@pytest.mark.parametrize(
    "wrong",
    ["jj_00000000_nothere", "jj_{prefix}_not-the-secret", "not-a-key", "jj_{prefix}_", "Bearer"],
)
def test_a_key_that_is_not_valid_is_401(store, registry, made, wrong: str) -> None:
    client = app_with(store, registry)
    key = wrong.format(prefix=made["admin"].split("_")[1])
    r = client.get("/gateways", headers=bearer(key))
    assert r.status_code == 401, r.text
    assert r.json()["error"] in ("invalid_key", "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert key not in r.text or len(key) < 12  # the key is not echoed back


def test_roles_rank_viewer_operator_admin(store, registry, made) -> None:
    router = APIRouter()

    @router.get("/acknowledge-test")
    def operator_only(who: Annotated[Caller, requires("operator")]) -> dict[str, str]:
        return {"by": who.name}

    app = create_app(store, access=Access(registry_check(registry), engine=registry))
    app.include_router(router)
    client = TestClient(app)
    codes = {
        role: (
            client.get("/acknowledge-test", headers=bearer(key)).status_code,
            client.get("/keys", headers=bearer(key)).status_code,
        )
        for role, key in made.items()
    }
    assert codes == {"viewer": (403, 403), "operator": (200, 403), "admin": (200, 200)}
    r = client.get("/keys", headers=bearer(made["viewer"]))
    assert r.json()["error"] == "forbidden" and "viewer" in r.json()["message"]
    assert "WWW-Authenticate" not in r.headers
    with pytest.raises(ValueError, match="unknown role"):
        requires("reader")


def test_admin_lists_keys_without_secrets(store, registry, made) -> None:
    body = app_with(store, registry).get("/keys", headers=bearer(made["admin"]))
    listed = body.json()
    assert [k["name"] for k in listed] == ["viewer-key", "operator-key", "admin-key"]
    assert {k["role"] for k in listed} == set(ROLES) and all(k["revoked"] is None for k in listed)
    for key in made.values():
        assert key.split("_", 2)[2] not in body.text
    assert "scrypt" not in body.text


def test_a_revoked_key_is_refused_once_the_cache_forgets_it(store, registry, made) -> None:
    client = app_with(store, registry, cache_seconds=0.0)
    assert client.get("/gateways", headers=bearer(made["viewer"])).status_code == 200
    keys.revoke(registry, made["viewer"].split("_")[1])
    r = client.get("/gateways", headers=bearer(made["viewer"]))
    assert r.status_code == 401 and r.json()["error"] == "invalid_key"


def test_public_read_groups(store, registry) -> None:
    client = app_with(store, registry, public=frozenset({"gateways"}))
    assert client.get("/gateways").status_code == 200
    assert client.get("/gateways/srl-pasar-01").status_code == 404  # open, and not there
    assert client.get("/readings/latest").status_code == 401
    assert client.get("/keys").status_code == 401  # never public
    everything = app_with(store, registry, public=None)
    assert all(everything.get(path).status_code in (200, 404, 422) for path in DATA)
    assert everything.get("/whoami").status_code == 401
    series = app_with(store, registry, public=frozenset({"series"}))
    assert series.get(DATA[4]).status_code == 200 and series.get("/gateways").status_code == 401
    groups = "alerts, conditions, gateways, ngsi-ld, readings, releases, series, sites"
    # never registry
    with pytest.raises(ValueError, match=f"gateway; the groups: {groups} "):
        app_with(store, registry, public=frozenset({"gateway"}))


def test_rates_per_key_answer_429_with_retry_after(store, registry, made) -> None:
    limits = Limits(per_minute={"viewer": 1, "operator": 1, "admin": 1, "public": 1}, burst=2)
    client = app_with(store, registry, limits=limits)
    viewer = bearer(made["viewer"])
    assert [client.get("/gateways", headers=viewer).status_code for _ in range(2)] == [200, 200]
    r = client.get("/gateways", headers=viewer)
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert r.headers["Retry-After"].isdigit() and 1 <= int(r.headers["Retry-After"]) <= 60
    assert f"{r.headers['Retry-After']} s" in r.json()["message"]
    assert client.get("/gateways", headers=bearer(made["admin"])).status_code == 200  # its own


def test_public_reads_are_limited_per_address(store, registry) -> None:
    limits = Limits(per_minute={"public": 1}, burst=3)
    client = app_with(store, registry, public=None, limits=limits)
    assert [client.get("/gateways").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert int(client.get("/conditions").headers["Retry-After"]) >= 1
    assert client.get("/health").status_code == 200  # health is never limited


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = Buckets(Limits(per_minute={"viewer": 60}, burst=2), clock=lambda: now[0])
    assert [buckets.take("k", "viewer") for _ in range(3)] == [None, None, 1]
    now[0] += 1.0
    assert buckets.take("k", "viewer") is None and buckets.take("k", "viewer") == 1
    assert buckets.take("k", "unlimited-kind") is None


def test_auth_per_request_is_cheap_once_a_key_is_known(store, registry, made) -> None:
    """Keys are checked with scrypt once, then cached: the authenticated request costs about
    what a public one does. Figures printed for the report."""
    client = app_with(store, registry, public=None, limits=Limits(per_minute={}))

    def mean_ms(headers: dict[str, str], n: int = 200) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            assert client.get("/gateways", headers=headers).status_code == 200
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1000

    t0 = time.perf_counter()
    keys.check(registry, made["viewer"])
    scrypt_ms = (time.perf_counter() - t0) * 1000
    client.get("/gateways", headers=bearer(made["viewer"]))  # the one slow check
    public, authed = mean_ms({}), mean_ms(bearer(made["viewer"]))
    print(
        f"\nauth cost: one key check (scrypt + lookup) {scrypt_ms:.1f} ms; median request "
        f"without a key {public:.2f} ms, with a cached key {authed:.2f} ms"
    )
    assert authed - public < scrypt_ms / 2


def test_a_registry_that_does_not_answer_is_503(store, registry, made) -> None:
    def down(key: str) -> Caller | None:
        raise OSError("connection refused by 127.0.0.1:5432")

    client = TestClient(create_app(store, access=Access(down)), raise_server_exceptions=False)
    r = client.get("/gateways", headers=bearer(made["viewer"]))
    assert r.status_code == 503 and r.json()["error"] == "registry_unavailable"
    assert r.headers["Retry-After"] == "5"
