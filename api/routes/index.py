"""``GET /``: what this API serves, for a program (JSON) and for a person (HTML).

A browser (``Accept: text/html``) gets a short page in Bahasa Indonesia (``?lang=en``:
English) with links to ``/docs`` and to every endpoint; anything else gets the same as JSON
(:class:`api.models.ApiIndex`). The list is the app's OpenAPI document, so it cannot leave
an endpoint out; each endpoint's sentence for people is in ``kernel/messages/api.toml``.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.errors import INVALID_REQUEST
from api.models import ApiIndex, IndexLink
from kernel import __version__
from kernel.text import Lang, tr

router = APIRouter(tags=["index"])


def endpoints(request: Request) -> list[tuple[str, str]]:
    """(path, summary) of every GET operation of the app's OpenAPI document but this one, in
    the order the app declares them."""
    paths = request.app.openapi().get("paths", {})
    return [
        (path, ops["get"].get("summary", ""))
        for path, ops in paths.items()
        if path != "/" and "get" in ops
    ]


def needs_query(request: Request, path: str) -> bool:
    """True if the endpoint has a required query parameter (``/series``): a bare link to it
    could only answer an error."""
    operation = request.app.openapi().get("paths", {}).get(path, {}).get("get", {})
    return any(
        p.get("in") == "query" and p.get("required") for p in operation.get("parameters", [])
    )


def page_key(path: str) -> str:
    """The catalogue key of an endpoint's sentence: ``/gateways/{gateway}`` ->
    ``api.path.gateways.gateway``."""
    parts = [p.strip("{}") for p in path.strip("/").split("/") if p]
    return "api.path." + ".".join(parts)


def _link(base: str, path: str, linked: bool = True) -> str:
    """The endpoint as a link; a path with a parameter ({gateway}) or a required query
    parameter (*linked* False) only as text."""
    code = f"<code>GET {escape(path)}</code>"
    return code if "{" in path or not linked else f'<a href="{escape(base + path)}">{code}</a>'


_STYLE = "body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em}"


def _html(request: Request, lang: Lang) -> str:
    base = str(request.base_url).rstrip("/")
    items = "\n".join(
        f"<li>{_link(base, path, not needs_query(request, path))}: "
        f"{escape(tr(page_key(path), lang))}</li>"
        for path, _ in endpoints(request)
    )
    other = "en" if lang == "id" else "id"
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{escape(tr("api.index.title", lang))}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(tr("api.index.title", lang))}</h1>
<p>{escape(tr("api.index.intro", lang))}</p>
<p><a href="{escape(base)}/peta?lang={lang}" id="overview">{escape(tr("page.link", lang))}</a></p>
<p><a href="{escape(base)}/docs">{escape(tr("api.index.docs", lang))}</a></p>
<h2>{escape(tr("api.index.endpoints", lang))}</h2>
<ul>
{items}
</ul>
<p>{escape(tr("api.index.json", lang))}</p>
<p><a href="{escape(base)}/?lang={other}">{escape(tr("api.index.other_lang", lang))}</a></p>
</body>
</html>
"""


@router.get(
    "/",
    response_model=ApiIndex,
    summary="What this API serves (JSON; an HTML page for browsers)",
    responses={
        200: {
            "content": {
                "text/html": {
                    "schema": {"type": "string"},
                    "example": '<!doctype html><html lang="id">...<a href="/docs">...</html>',
                }
            }
        },
        **INVALID_REQUEST,
    },
)
def index(
    request: Request,
    lang: Annotated[
        Literal["id", "en"], Query(description="language of the HTML page", examples=["en"])
    ] = "id",
) -> JSONResponse | HTMLResponse:
    """The endpoints with absolute links, and where the docs are. A browser (``Accept:
    text/html``) gets a short page in Bahasa Indonesia, or English with ``?lang=en``."""
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_html(request, lang))
    base = str(request.base_url).rstrip("/")
    body = ApiIndex(
        name="JagaJalan API",
        version=__version__,
        docs=f"{base}/docs",
        openapi=f"{base}/openapi.json",
        endpoints=[
            IndexLink(path=path, href=base + path, summary=summary)
            for path, summary in endpoints(request)
        ],
    )
    return JSONResponse(body.model_dump())
