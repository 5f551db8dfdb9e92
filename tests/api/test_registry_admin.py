"""The registry managed through the API (api/routes/registry.py), on an SQLite and a
PostgreSQL registry: admins write, operators read contacts, viewers neither; bodies are
checked as the registry file is, and a refusal names the field and the value."""

from __future__ import annotations

import base64
import hashlib
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from api.access import Access, Limits, registry_check
from api.app import create_app
from kernel.config import load_toml
from registry import db, document, keys
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from testkit.points import GW1, GW2
from testkit.postgres import Postgres, throwaway
from testkit.sites import REGISTRY, import_registry

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

SITE = {
    "name": "Jl. Lintas Sumatera, Pelawan",
    "road": "Jl. Lintas Sumatera",
    "kecamatan": "Pelawan",
    "latitude": -2.45,
    "longitude": 102.6,
    "road_type": "arteri_primer",
    "capacity_smp_per_hour": 2600,
    "flood": {"ladder": "road_depth", "waspada_cm": 15, "siaga_cm": 25, "awas_cm": 40},
}
BROKER = "mqtts://broker.sarolangunkab.go.id:8883"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with throwaway() as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        engine = db.engine_for(pg.sqlalchemy_url)
        with engine.begin() as connection:  # every table the previous test's migrations made
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    import_registry(engine, tmp_path / "registry.toml", REGISTRY)
    yield engine
    engine.dispose()


class Api:
    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.store = SQLiteStore(tmp_path / "store.sqlite")
        access = Access(registry_check(engine), public=None, limits=Limits({}), engine=engine)
        app = create_app(self.store, access=access, registry=RegistryReader(engine))
        self.client = TestClient(app)
        self.keys = {role: keys.create(engine, role, f"k-{role}")[1] for role in keys.ROLES}

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[Api]:
    api = Api(engine, tmp_path)
    yield api
    api.store.close()


WRITES = [
    ("PUT", "/sites/pelawan", SITE),
    ("DELETE", "/sites/singkut", None),
    ("PUT", "/registry/gateways/srl-pelawan-01", {"site": "pauh"}),
    ("POST", f"/registry/gateways/{GW1}/credentials", None),
    ("DELETE", f"/registry/gateways/{GW2}", None),
    ("PUT", "/registry/contacts/posko", {"name": "Posko", "role": "operator"}),
    ("DELETE", "/registry/contacts/posko", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=lambda v: str(v)[:30])
def test_writes_need_an_admin_key(api: Api, method: str, path: str, body: dict | None) -> None:
    for role, status in ((None, 401), ("viewer", 403), ("operator", 403)):
        r = api.client.request(method, path, json=body, headers=api.as_(role))
        assert r.status_code == status, (role, r.text)
        assert r.json()["error"] == ("unauthorized" if role is None else "forbidden")
    assert [s["id"] for s in api.client.get("/sites").json()] == [
        "pasar-sarolangun",
        "pauh",
        "pos-duga-tembesi",
        "singkut",
    ]  # nothing changed (reads are open here)


def test_contacts_and_the_export_are_for_operators_and_admins(api: Api) -> None:
    """Reads are public in this app (--public-read all), contacts are not."""
    contact = {"name": "Posko PUPR", "role": "operator", "whatsapp": "+6281234567890"}
    r = api.client.put("/registry/contacts/posko", json=contact, headers=api.as_("admin"))
    assert r.status_code == 201 and r.json()["whatsapp"] == "+6281234567890"
    for path in ("/registry/contacts", "/registry/export"):
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers=api.as_("viewer")).status_code == 403
    listed = api.client.get("/registry/contacts", headers=api.as_("operator")).json()
    assert listed == [
        {
            "id": "posko",
            "name": "Posko PUPR",
            "role": "operator",
            "language": "id",
            "telegram": None,
            "whatsapp": "+6281234567890",
            "sms": None,
            "email": None,
        }
    ]
    assert "6281234567890" not in api.client.get("/sites/latest").text
    changed = contact | {"whatsapp": None, "email": "posko@pupr.sarolangunkab.go.id"}
    r = api.client.put("/registry/contacts/posko", json=changed, headers=api.as_("admin"))
    assert r.status_code == 200
    listed = api.client.get("/registry/contacts", headers=api.as_("admin")).json()
    assert (listed[0]["whatsapp"], listed[0]["email"]) == (None, changed["email"])
    bad = api.client.put(
        "/registry/contacts/posko", json=contact | {"whatsapp": "0812"}, headers=api.as_("admin")
    )
    assert bad.status_code == 422 and "whatsapp" in bad.json()["message"]
    assert "'0812'" in bad.json()["message"]


def test_a_site_is_created_replaced_and_deleted(api: Api, tmp_path: Path) -> None:
    admin = api.as_("admin")
    r = api.client.put("/sites/pelawan", json=SITE, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["flood"]["thresholds"][2] == {"status": "awas", "value": 40.0}
    assert api.client.get("/sites/pelawan").json() == r.json()  # at once: the cache is dropped
    r = api.client.put("/sites/pelawan", json=SITE | {"segment": "Pasar Pelawan"}, headers=admin)
    assert r.status_code == 200 and r.json()["segment"] == "Pasar Pelawan"
    assert api.client.delete("/sites/pelawan", headers=admin).json() == {
        "deleted": "site",
        "id": "pelawan",
    }
    assert api.client.get("/sites/pelawan").status_code == 404
    assert api.client.delete("/sites/pelawan", headers=admin).status_code == 404
    busy = api.client.delete("/sites/pauh", headers=admin)
    assert busy.status_code == 409 and busy.json()["error"] == "conflict"
    assert GW2 in busy.json()["message"]
    # The export is the CLI's document: it reads back as a registry file.
    exported = api.client.get("/registry/export", headers=api.as_("operator"))
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/toml"
    path = tmp_path / "exported.toml"
    path.write_text(exported.text)
    doc = load_toml(document.RegistryDoc, path)
    assert [s.id for s in doc.sites] == ["pasar-sarolangun", "pauh", "pos-duga-tembesi", "singkut"]
    assert {g.id for g in doc.gateways} == {GW1, GW2, "srl-gauge-01"}
    csv = api.client.get(
        "/registry/export", params={"format": "csv", "table": "sites"}, headers=api.as_("admin")
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("id,name,road,") and "flood.waspada_cm" in lines[0]
    assert [line.split(",")[0] for line in lines[1:]] == [s.id for s in doc.sites]
    no_table = api.client.get(
        "/registry/export", params={"format": "csv"}, headers=api.as_("admin")
    )
    assert no_table.status_code == 422 and "table" in no_table.json()["message"]


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"latitude": 95.0}, "latitude", "95.0"),
        ({"kecamatan": "Bandung"}, "kecamatan", "'Bandung'"),
        (
            {"flood": {"ladder": "road_depth", "waspada_cm": 30, "siaga_cm": 20, "awas_cm": 40}},
            "siaga_cm",
            "20",
        ),
        ({"id": "elsewhere"}, "id", "'elsewhere'"),
        ({"colour": "red"}, "colour", "'red'"),
    ],
)
def test_a_bad_site_is_refused_naming_the_field_and_value(
    api: Api, change: dict, field: str, value: str
) -> None:
    r = api.client.put("/sites/pelawan", json=SITE | change, headers=api.as_("admin"))
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    assert field in r.json()["message"] and value in r.json()["message"], r.json()["message"]
    assert api.client.get("/sites/pelawan").status_code == 404


def mosquitto_check(entry: str, password: str) -> bool:
    """The entry's PBKDF2-SHA512 hash, recomputed from the password (mosquitto's $7$)."""
    _, hashed = entry.split(":", 1)
    _, kind, iterations, salt, digest = hashed.split("$")
    again = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return kind == "7" and base64.b64encode(again).decode() == digest


def test_registering_a_gateway_issues_its_credentials_once(api: Api) -> None:
    admin = api.as_("admin")
    body = {
        "site": "singkut",
        "notes": "Kabinet di tiang PJU",
        "sensors": [
            {"id": "wl1", "device": "modbus", "profile": "ultrasonic-level"},
            {"id": "cnt1", "device": "traffic_counter", "installed_on": "2026-03-02"},
        ],
    }
    path = "/registry/gateways/srl-singkut-01"
    no_broker = api.client.put(path, json=body, headers=admin)
    assert no_broker.status_code == 422 and "broker_url" in no_broker.json()["message"]
    r = api.client.put(path, json=body, params={"broker_url": BROKER}, headers=admin)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["created"] is True and got["site"] == "singkut"
    assert [s["id"] for s in got["gateway"]["sensors"]] == ["wl1", "cnt1"]
    cred = got["credentials"]
    assert cred["username"] == "srl-singkut-01" and len(cred["password"]) >= 24
    assert cred["password_file_entry"].startswith("srl-singkut-01:$7$")
    assert mosquitto_check(cred["password_file_entry"], cred["password"])
    assert "topic write jagajalan/v1/srl-singkut-01/readings" in cred["acl"]
    config = tomllib.loads(cred["gateway_config"])
    assert config["gateway"]["id"] == "srl-singkut-01"
    assert config["gateway"]["site"] == "Jl. Lintas Sumatera, Singkut"
    assert config["mqtt"] == {
        "url": BROKER,
        "username": "srl-singkut-01",
        "password_file": "/etc/jagajalan/mqtt-password",
    }
    sites = {s["id"]: s for s in api.client.get("/sites").json()}
    assert sites["singkut"]["gateways"][0]["id"] == "srl-singkut-01"
    # Replaced: no credentials, the sensors are the ones given now.
    again = api.client.put(path, json=body | {"sensors": body["sensors"][:1]}, headers=admin)
    assert again.status_code == 200 and again.json()["credentials"] is None
    sites = {s["id"]: s for s in api.client.get("/sites").json()}
    assert [s["id"] for s in sites["singkut"]["gateways"][0]["sensors"]] == ["wl1"]
    # New credentials on request; the password differs.
    fresh = api.client.post(f"{path}/credentials", params={"broker_url": BROKER}, headers=admin)
    assert fresh.status_code == 200 and fresh.json()["password"] != cred["password"]
    assert api.client.delete(path, headers=admin).json() == {
        "deleted": "gateway",
        "id": path.rsplit("/", 1)[1],
    }
    assert api.client.delete(path, headers=admin).status_code == 404
    unknown = api.client.post(f"{path}/credentials", params={"broker_url": BROKER}, headers=admin)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "params", "field", "value"),
    [
        ({"site": "atlantis"}, {"broker_url": BROKER}, "site", "'atlantis'"),
        (
            {"sensors": [{"id": "x1", "device": "lidar"}]},
            {"broker_url": BROKER},
            "device",
            "'lidar'",
        ),
        (
            {"sensors": [{"id": "a1", "device": "modbus"}, {"id": "a1", "device": "modbus"}]},
            {"broker_url": BROKER},
            "sensors[1].id",
            "'a1'",
        ),
        ({}, {"broker_url": "http://broker"}, "broker_url", "'http://broker'"),
    ],
)
def test_a_bad_gateway_is_refused_naming_the_field_and_value(
    api: Api, body: dict, params: dict, field: str, value: str
) -> None:
    r = api.client.put(
        "/registry/gateways/srl-new-01", json=body, params=params, headers=api.as_("admin")
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    assert field in r.json()["message"] and value in r.json()["message"], r.json()["message"]
    assert "srl-new-01" not in api.client.get("/sites").text


def test_a_reserved_gateway_id_is_refused(api: Api) -> None:
    r = api.client.put(
        "/registry/gateways/ingest-1",
        json={},
        params={"broker_url": BROKER},
        headers=api.as_("admin"),
    )
    assert r.status_code == 422 and "ingest-1" in r.json()["message"]


def test_a_contact_with_keys_is_not_deleted(api: Api, engine: Engine) -> None:
    admin = api.as_("admin")
    api.client.put(
        "/registry/contacts/teknisi", json={"name": "Teknisi", "role": "teknisi"}, headers=admin
    )
    keys.create(engine, "viewer", "k-teknisi", contact="teknisi")
    r = api.client.delete("/registry/contacts/teknisi", headers=admin)
    assert r.status_code == 409 and "k-teknisi" in r.json()["message"]
    assert api.client.delete("/registry/contacts/nobody", headers=admin).status_code == 404


def test_a_registry_that_cannot_be_written_answers_503(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys are checked against a good registry; the sites' registry is not migrated. The log
    names the failure, not the statement's values (a contact's phone number)."""
    broken = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    access = Access(registry_check(engine), public=None, limits=Limits({}), engine=engine)
    store = SQLiteStore(tmp_path / "store.sqlite")
    app = create_app(store, access=access, registry=RegistryReader(broken))
    admin = {"Authorization": f"Bearer {keys.create(engine, 'admin', 'k-503')[1]}"}
    client = TestClient(app)
    for method, path, body in WRITES:
        r = client.request(method, path, json=body, params={"broker_url": BROKER}, headers=admin)
        assert r.status_code == 503 and r.json()["error"] == "registry_unavailable", (path, r.text)
    assert client.get("/registry/contacts", headers=admin).status_code == 503
    contact = {"name": "Posko", "role": "operator", "whatsapp": "+6281298765432"}
    r = client.put("/registry/contacts/posko", json=contact, headers=admin)
    assert r.status_code == 503
    assert "no such table" in caplog.text and "6281298765432" not in caplog.text
    broken.dispose()
    store.close()
