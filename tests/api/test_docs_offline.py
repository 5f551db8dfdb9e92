"""``/docs`` works in an office without internet: Swagger UI comes from the package.

The API runs from a non-editable build of the package (setuptools' ``build_py`` into a
temporary folder, as a wheel would lay it out), so the files are there only if pyproject's
package data ships them. Headless Chromium loads ``/docs`` with every host but 127.0.0.1
unresolvable; the test reads the DOM Swagger UI rendered and every request the page made. A
control page that loads from a CDN shows that the check sees such a request.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit import REPO
from testkit.browser import load_offline
from testkit.package_build import build_packages, built_api

SWAGGER = REPO / "api" / "static" / "swagger-ui"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages as an install lays them out: only what pyproject ships."""
    return build_packages(tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def served(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jagajalan api run`` from the build (not from the source tree); its base URL."""
    with built_api(built, tmp_path_factory.mktemp("served")) as url:
        yield url


def test_the_build_ships_swagger_ui_unchanged(built: Path) -> None:
    readme = (SWAGGER / "README.md").read_text()
    for name, digest in re.findall(r"^\| `([\w.-]+)` \| `([0-9a-f]{64})` \|$", readme, re.M):
        shipped = built / "api" / "static" / "swagger-ui" / name
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == digest, name
    for name in ("LICENSE", "NOTICE"):
        assert (built / "api" / "static" / "swagger-ui" / name).is_file()


@pytest.mark.services
def test_docs_render_without_any_request_leaving_the_machine(served: str, tmp_path: Path) -> None:
    page = httpx.get(f"{served}/docs", timeout=5).text
    assert "cdn." not in page and "https://" not in page
    loaded = load_offline(f"{served}/docs", tmp_path / "chromium")
    assert loaded.requests, "the network log shows no request of the page"
    outside = [url for url in loaded.requests if not url.startswith(served + "/")]
    assert outside == [], f"/docs asked another host: {outside}"
    assert {f"{served}/static/swagger-ui/swagger-ui-bundle.js", f"{served}/openapi.json"} <= set(
        loaded.requests
    )
    # Swagger UI rendered every operation of the OpenAPI document.
    paths = httpx.get(f"{served}/openapi.json", timeout=5).json()["paths"]
    rendered = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', loaded.dom))
    assert rendered == set(paths), loaded.dom[:2000]
    assert "JagaJalan API" in loaded.dom


@pytest.mark.services
def test_the_check_sees_a_page_that_loads_from_a_cdn(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "cdn.html").write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/'
        'swagger-ui-bundle.js"></script></head><body>cdn</body></html>'
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/cdn.html"
        loaded = load_offline(url, tmp_path / "chromium")
    finally:
        server.shutdown()
        server.server_close()
    assert loaded.requests[0] == url
    assert any(u.startswith("https://cdn.jsdelivr.net/") for u in loaded.requests)
