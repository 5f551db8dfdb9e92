"""``GET /docs``: Swagger UI from the package itself, so it works in an office without internet.

The assets are swagger-ui-dist (npm), vendored unchanged in ``api/static/swagger-ui/`` (version
and checksums in its README.md) and served under ``/static/swagger-ui/``; the page FastAPI
builds would load them from a CDN. Swagger UI's validator badge (which calls
validator.swagger.io) is switched off, and ReDoc (CDN only) is not served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="JagaJalan API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


def install(app: FastAPI) -> None:
    """``/docs`` and the files it loads (``/static/...``)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
