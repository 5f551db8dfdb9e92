"""``GET /peta``, the overview page, as HTML: open without a key (it holds no data), in Bahasa
Indonesia by default and English with ``?lang=en``, every sentence from the catalogue handed
to its script, only this server's files, tiles only when configured; ``/`` links to it.
tests/api/test_page_browser.py loads it in Chromium."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.access import ALWAYS_PUBLIC, Access, open_reads
from api.app import create_app
from api.routes.page import TEXTS
from jagajalan.cli import main
from kernel.text import CATALOGUE, tr
from store.sqlite import SQLiteStore

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

BROWSER = {"accept": "text/html"}
TILES = "http://tiles.kantor.test/{z}/{x}/{y}.png"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "api.sqlite")
    s.ensure()
    yield s
    s.close()


def config(html: str) -> dict:
    found = re.search(r'<script id="peta-config" type="application/json">(.*?)</script>', html)
    assert found, html
    return json.loads(found.group(1))


def test_the_page_is_open_without_a_key_in_bahasa_indonesia(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=Access()))  # closed: every data route needs a key
    assert client.get("/sites/latest").status_code in (401, 404)  # 404 until /sites/latest exists
    page = client.get("/peta")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="id">' in html
    assert f"<h1>{tr('page.title', 'id')}</h1>" in html
    assert tr("page.intro", "id", seconds=30) in html
    cfg = config(html)
    assert cfg["lang"] == "id" and cfg["refresh_s"] == 30 and cfg["tiles"] is None
    # Every page.* sentence reaches the script, in Bahasa Indonesia, placeholders left open.
    page_keys = {k[5:] for k in CATALOGUE if k.startswith("page.") and ".unit." not in k}
    assert set(cfg["text"]) == set(TEXTS) == page_keys
    assert cfg["text"]["updated"] == CATALOGUE["page.updated"][0]
    assert cfg["labels"]["ispu"]["tidak_sehat"] == "Tidak Sehat"
    assert cfg["labels"]["flood"]["siaga_1"] == "Siaga I (bencana)"
    assert cfg["units"]["vehicles"] == "kendaraan" and cfg["units"]["pcu/h"] == "smp/jam"
    assert cfg["units"]["ug/m3"] == "µg/m³"
    assert "/peta" in ALWAYS_PUBLIC


def test_english_with_lang_en_and_another_lang_is_refused(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=open_reads()))
    html = client.get("/peta", params={"lang": "en"}).text
    assert '<html lang="en">' in html and "<h1>Road conditions map</h1>" in html
    cfg = config(html)
    assert cfg["text"]["unauthorized"] == CATALOGUE["page.unauthorized"][1]
    assert cfg["labels"]["ispu"]["tidak_sehat"] == "Unhealthy"
    assert cfg["labels"]["flood"]["awas"] == "Warning"
    bad = client.get("/peta", params={"lang": "fr"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request", bad.text


def test_only_this_server_s_files_and_tiles_only_when_configured(store: SQLiteStore) -> None:
    plain = TestClient(create_app(store, access=open_reads())).get("/peta").text
    assert "http://" not in plain and "https://" not in plain and "//cdn" not in plain
    assets = re.findall(r'(?:src|href)="([^"]+)"', plain)
    assert {
        "/static/leaflet/leaflet.js",
        "/static/leaflet/leaflet.css",
        "/static/uplot/uPlot.iife.min.js",
        "/static/page/peta.js",
        "/static/page/peta-chart.js",
        "/static/page/peta-alerts.js",
        "/static/page/peta-releases.js",
    } <= set(assets)
    client = TestClient(create_app(store, access=open_reads()))
    for path in assets:
        if path.startswith("/static/"):
            assert client.get(path).status_code == 200, path
    app = create_app(store, access=open_reads(), map_tiles=TILES, map_attribution="© Dinas PU")
    cfg = config(TestClient(app).get("/peta").text)
    assert cfg["tiles"] == TILES and cfg["attribution"] == "© Dinas PU"


def test_the_script_holds_no_sentence_of_its_own() -> None:
    """Texts come from the server: the script's string literals are keys, CSS, URLs and
    technical tokens, never a sentence (a space between two words)."""
    folder = Path(__file__).parents[2] / "api" / "static" / "page"
    script = "\n".join(p.read_text() for p in sorted(folder.glob("*.js")))
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)  # without comments
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', code)
    sentences = [
        s for s in literals if re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", s) and s != "use strict"
    ]
    assert sentences == [], sentences
    used = set(re.findall(r"\bt\(\"([a-z_]+)\"", code))
    assert used and used <= set(TEXTS), used - set(TEXTS)


def test_the_index_page_links_the_overview(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=open_reads()), base_url="http://jj.test")
    for lang in ("id", "en"):
        html = client.get("/", params={"lang": lang}, headers=BROWSER).text
        href = f"http://jj.test/peta?lang={lang}"
        assert f'<a href="{href}" id="overview">{tr("page.link", lang)}</a>' in html


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--map-tiles", "http://tiles.test/{z}/{x}.png"], "{z}, {x} and {y}"),
        (["--map-tiles", "tiles.test/{z}/{x}/{y}.png"], "map-tiles"),
        (["--map-attribution", "© OSM"], "a credit line needs --map-tiles"),
    ],
)
def test_a_tile_template_without_its_parts_is_refused(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["api", "run", "--sqlite", str(tmp_path / "s.sqlite"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and problem in err, err
