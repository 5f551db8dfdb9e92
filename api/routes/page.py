"""``GET /peta``: the overview page of the district for people (Dinas PU staff), in a browser.

A map of the sites with each one's state (gateway online or offline, flood status, ISPU colour,
traffic level of service), their latest values, and a chart of the last 24 hours of a field of
the site clicked; the page refreshes itself every :data:`REFRESH_SECONDS`. Bahasa Indonesia by
default, English with ``?lang=en``: every sentence comes from the catalogue
(``kernel/messages/page.toml``) and is handed to the page's script in its language, with the
labels of the flood and ISPU levels (:mod:`analytics`); the script holds no text of its own.

The page holds no data and is open to everyone; its script reads ``GET /sites/latest`` and
``GET /series``, which follow ``--public-read`` like any client (without access it says so and
how to fix it, and takes a key kept in the browser). Everything it loads comes from this
server (``/static/page``: ``peta.js``, the chart in ``peta-chart.js``, the active alerts of
``GET /alerts`` in ``peta-alerts.js``, the gateways and sensor nodes behind the latest
release of ``GET /releases`` (with why a gateway's last update failed) in
``peta-releases.js``; Leaflet and uPlot, vendored from npm, in
``/static/leaflet`` and ``/static/uplot``, versions and checksums in their README.md), so it
works without internet.
Map tiles only when ``--map-tiles`` names a tile server; without, the sites are drawn on a plain
background with latitude and longitude lines.
"""

from __future__ import annotations

import json
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from analytics import flood, ispu
from kernel.text import CATALOGUE, Lang, placeholders, tr

router = APIRouter(include_in_schema=False)

PATH = "/peta"
REFRESH_SECONDS = 30
#: The page's sentences (``page.<name>`` in the catalogue), as templates: ``{name}`` is filled
#: in by the script.
TEXTS = tuple(
    sorted(
        key.removeprefix("page.")
        for key in CATALOGUE
        if key.startswith("page.") and not key.startswith("page.unit.")
    )
)
#: Units as the API names them (telemetry/units.py) -> as people read them: words from the
#: catalogue (``page.unit.<name>``), symbols written properly, "1" (a ratio) as nothing.
UNIT_WORDS = {
    "vehicles": "vehicles",
    "devices": "devices",
    "frames": "frames",
    "readings": "readings",
    "satellites": "satellites",
    "pcu/h": "pcu_h",
}
UNIT_SYMBOLS = {"ug/m3": "µg/m³", "degC": "°C", "deg": "°", "1": ""}


def template(name: str, lang: Lang) -> str:
    """The catalogue's sentence ``page.<name>`` with its placeholders left for the script."""
    key = f"page.{name}"
    raw = CATALOGUE[key][1 if lang == "en" else 0]
    return tr(f"page.{name}", lang, **{p: "{" + p + "}" for p in placeholders(raw)})


def labels(lang: Lang) -> dict[str, dict[str, str]]:
    """Names of the levels the data carries as keys: flood statuses (every ladder's keys the
    project knows) and ISPU categories."""
    levels = {"normal": flood.ROAD_STATUS.normal.label(lang)}
    levels |= {key: pair[1 if lang == "en" else 0] for key, pair in flood.KNOWN_LABELS.items()}
    return {
        "flood": levels,
        "ispu": {c.key: c.label(lang) for c in ispu.CATEGORIES},
    }


def reasons(lang: Lang) -> dict[str, str]:
    """Why an update failed, as the updater says it (``update.*``, ``health.*`` in the
    catalogue), for the reason keys a gateway's status reports: templates with ``{detail}``."""
    out = {}
    for key, pair in CATALOGUE.items():
        if key.split(".")[0] in ("update", "health") and set(placeholders(pair[0])) <= {"detail"}:
            out[key] = tr(key, lang, detail="{detail}")
    return out


def page_config(request: Request, lang: Lang) -> dict[str, Any]:
    return {
        "lang": lang,
        "refresh_s": REFRESH_SECONDS,
        "tiles": request.app.state.map_tiles,
        "attribution": request.app.state.map_attribution,
        "text": {name: template(name, lang) for name in TEXTS},
        "labels": labels(lang),
        "reasons": reasons(lang),
        "units": UNIT_SYMBOLS | {u: tr(f"page.unit.{k}", lang) for u, k in UNIT_WORDS.items()},
    }


def _json_script(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element (no ``</script>`` can end it early)."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def html(request: Request, lang: Lang) -> str:
    other = "en" if lang == "id" else "id"
    intro = tr("page.intro", lang, seconds=REFRESH_SECONDS)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(tr("page.title", lang))} · JagaJalan</title>
<link rel="stylesheet" href="/static/leaflet/leaflet.css">
<link rel="stylesheet" href="/static/uplot/uPlot.min.css">
<link rel="stylesheet" href="/static/page/peta.css">
</head>
<body>
<header>
<h1>{escape(tr("page.title", lang))}</h1>
<p>{escape(intro)}</p>
<p id="updated">{escape(tr("page.loading", lang))}</p>
<nav><a href="/">JagaJalan API</a> · <a href="{PATH}?lang={other}" id="other-lang">{
        escape(tr("api.index.other_lang", lang))
    }</a></nav>
</header>
<div id="problem" role="alert" hidden></div>
<section id="alerts" aria-live="polite" hidden></section>
<section id="releases" hidden></section>
<main>
<div id="map"></div>
<section id="sites" aria-label="{escape(tr("page.site", lang))}"></section>
</main>
<section id="chart-box">
<h2>{escape(tr("page.chart", lang))}</h2>
<p id="chart-title">{escape(tr("page.chart_hint", lang))}</p>
<label id="chart-field-label" hidden>{escape(tr("page.chart_field", lang))}
<select id="chart-field"></select></label>
<div id="chart"></div>
</section>
<script id="peta-config" type="application/json">{_json_script(page_config(request, lang))}</script>
<script src="/static/leaflet/leaflet.js"></script>
<script src="/static/uplot/uPlot.iife.min.js"></script>
<script src="/static/page/peta-chart.js"></script>
<script src="/static/page/peta-alerts.js"></script>
<script src="/static/page/peta-releases.js"></script>
<script src="/static/page/peta.js"></script>
</body>
</html>
"""


@router.get(PATH)
def overview(
    request: Request,
    lang: Annotated[Literal["id", "en"], Query(description="language of the page")] = "id",
) -> HTMLResponse:
    """The overview page (module docstring)."""
    return HTMLResponse(html(request, lang))
