"""``GET /`` leads to what exists (JSON for programs, a page in Bahasa Indonesia for people),
and every unknown path or wrong method answers in the documented error format."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.access import open_reads
from api.app import create_app
from api.routes.index import page_key
from kernel.text import CATALOGUE
from registry import db
from registry.read import RegistryReader
from store.sqlite import SQLiteStore

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "api.sqlite")
    store.ensure()
    registry = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    db.upgrade(registry)  # an empty registry: /sites answers []
    app = create_app(store, access=open_reads(), registry=RegistryReader(registry))
    yield TestClient(app, base_url="http://jagajalan.test:8000")
    registry.dispose()
    store.close()


def test_root_lists_every_endpoint_with_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["docs"] == "http://jagajalan.test:8000/docs"
    assert body["openapi"] == "http://jagajalan.test:8000/openapi.json"
    documented = [
        path
        for path, ops in client.get("/openapi.json").json()["paths"].items()
        if "get" in ops and path != "/"
    ]
    assert [e["path"] for e in body["endpoints"]] == documented
    assert {"/health", "/gateways", "/gateways/{gateway}/history", "/readings/latest"} <= set(
        documented
    )
    for entry in body["endpoints"]:
        assert entry["href"] == "http://jagajalan.test:8000" + entry["path"] and entry["summary"]
    # Every link that is not a template and needs no query parameter answers (reads are open
    # here; /whoami, /keys, the registry's contacts and export and an alert's deliveries
    # always need a key: tests/api/test_auth.py, test_registry_admin.py, test_alerts_api.py).
    for entry in body["endpoints"]:
        if "{" not in entry["path"] and entry["path"] != "/series":
            keyed = entry["path"] in (
                "/whoami",
                "/keys",
                "/registry/contacts",
                "/registry/export",
                "/alerts/deliveries",
            )
            assert client.get(entry["path"]).status_code == (401 if keyed else 200), entry["path"]
    assert client.get("/series").status_code == 422  # measurement and field are required


def test_root_is_a_page_in_bahasa_indonesia_for_a_browser(client: TestClient) -> None:
    r = client.get("/", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="id">' in page and "<title>API JagaJalan</title>" in page
    assert 'href="http://jagajalan.test:8000/docs"' in page
    assert "Dokumentasi interaktif" in page
    assert 'href="http://jagajalan.test:8000/gateways"><code>GET /gateways</code>' in page
    assert "keadaan setiap perangkat" in page  # the /gateways sentence, in Indonesian
    assert "<code>GET /gateways/{gateway}/history</code>" in page
    assert "<li><code>GET /series</code>: Deret waktu" in page  # text: it needs parameters
    assert "Every gateway" not in page  # no English sentence on the Indonesian page...
    english = client.get("/", params={"lang": "en"}, headers=BROWSER).text
    assert '<html lang="en">' in english and "Every gateway" in english
    assert "keadaan setiap perangkat" not in english  # ...and the reverse
    assert client.get("/", params={"lang": "fr"}, headers=BROWSER).status_code == 422


def test_every_endpoint_has_a_sentence_in_both_languages(client: TestClient) -> None:
    for entry in client.get("/").json()["endpoints"]:
        key = page_key(entry["path"])
        assert key in CATALOGUE, f"kernel/messages/api.toml has no {key!r}"
        assert all(text.strip() for text in CATALOGUE[key])


@pytest.mark.parametrize("path", ["/nothing-here", "/gateways/srl-pasar-01/extra", "/static/x.js"])
def test_unknown_paths_answer_in_the_error_format(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": "not_found",
        "message": f"nothing at {path}; GET / lists what exists",
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/gateways", "/readings/latest", "/health", "/docs"])
def test_wrong_methods_answer_in_the_error_format(
    client: TestClient, method: str, path: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["content-type"] == "application/json"
    assert re.fullmatch(r"GET(, HEAD)?|HEAD, GET", r.headers["allow"])
    assert r.json() == {
        "error": "method_not_allowed",
        "message": f"{method} {path} is not allowed; this path answers {r.headers['allow']}",
    }


def test_the_error_codes_are_documented(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ErrorResponse"]
    codes = schema["properties"]["error"]["description"]
    doc = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    for code in ("not_found", "method_not_allowed"):
        assert code in codes and f"`{code}`" in doc
    assert '{"detail": "Not Found"}' not in doc  # the old, contradicting format is gone
