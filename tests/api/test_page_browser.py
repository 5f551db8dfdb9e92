"""The overview page /peta in a real headless Chromium, over an API run from a build of the
package (only what pyproject ships) with a known store and the example registry, with every
host but 127.0.0.1 unresolvable.

The store holds three hours of readings as ingest writes them (Pasar Sarolangun: PM2.5 120
µg/m³, 25 cm of water, traffic; Pauh: clean air, its gateway offline) and the indicators the
real job computes from them (``jagajalan analytics backfill``); the registry is
examples/registry.toml. The page must show every site of the registry with the states and
values ``GET /sites/latest`` gives, draw the chart of the site named by ``?site=``, refresh
itself, speak English with ``?lang=en``, say in words when the data needs a key, take tiles
from a tile server on loopback when one is configured, and ask no other host. Assertions are
on the DOM (testkit/overview.py); a screenshot is kept in the test's folder.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jagajalan.cli import main
from jagajalan.demo_parts import REGISTRY_FILE, prepare_registry
from kernel.text import tr
from kernel.times import utc_iso
from store.sqlite import SQLiteStore
from telemetry.mapping import batch_to_points, status_points
from telemetry.models import Batch, Reading, Status
from testkit import REPO
from testkit.alerts import alert_row
from testkit.browser import load_offline, screenshot
from testkit.overview import read_overview, releases_shown
from testkit.package_build import build_packages, built_api

pytestmark = pytest.mark.services

MIN, HOUR = 60_000, 3_600_000
PASAR, PAUH = "srl-pasar-01", "srl-pauh-01"
STATIC = REPO / "api" / "static"


def readings(gateway: str, start: int, minutes: int, pm25: float, level: float) -> list[Reading]:
    out = []
    for m in range(minutes):
        t = start + m * MIN
        out.append(Reading(sensor="env1", measurement="air_quality", time=t, fields={"pm25": pm25}))
        out.append(
            Reading(
                sensor="wl1",
                measurement="water_level",
                time=t,
                fields={"level": level, "distance": 100.0 - level},
            )
        )
        if gateway == PASAR:
            for cls, n in (("KR", 8), ("SM", 4)):
                out.append(
                    Reading(
                        sensor="cnt1",
                        measurement="traffic",
                        time=t,
                        fields={"count": n, "speed_mean": 40.0},
                        tags={"lane": "1", "direction": "in", "vehicle_class": cls},
                    )
                )
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_packages(tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the example registry and a store of the last three hours."""
    folder = tmp_path_factory.mktemp("data")
    prepare_registry(folder)
    now = int(time.time() * 1000)
    start = now - now % HOUR - 2 * HOUR
    minutes = (now - start) // MIN
    store = SQLiteStore(folder / "store.sqlite")
    store.ensure()
    for seq, (gw, pm25, level) in enumerate(((PASAR, 120.0, 25.0), (PAUH, 10.0, 2.0))):
        rows = readings(gw, start, minutes, pm25, level)
        for i in range(0, len(rows), 500):
            chunk = rows[i : i + 500]
            store.write(
                batch_to_points(
                    Batch(gateway=gw, seq=seq * 1000 + i, sent=chunk[-1].time, readings=chunk)
                )
            )
    # An older status named wl1 with the desired firmware; the newest one carries the failed
    # update to the release its group should run (rolled back: it still runs 0.1.0).
    wl1 = Status(
        gateway=PASAR,
        state="online",
        time=now - 2 * MIN,
        devices={"wl1": "ok"},
        firmware={"wl1": "WL-2.08"},
    )
    store.write(status_points(wl1, now - 2 * MIN))
    update = FAILED | {"time": now - 10 * MIN}
    pasar = Status(gateway=PASAR, state="online", time=now - MIN, version="0.1.0", update=update)
    store.write(status_points(pasar, now - MIN))
    store.write(status_points(Status(gateway=PAUH, state="offline"), now - 30 * MIN))
    store.close()
    seed_alerts(folder / REGISTRY_FILE, now)
    seed_releases(folder / REGISTRY_FILE)
    config = str(REPO / "examples" / "analytics.toml")
    sqlite = str(folder / "store.sqlite")
    span = ["--start", utc_iso(start), "--end", utc_iso(now)]
    registry = ["--registry-db", str(folder / REGISTRY_FILE)]  # capacities and flood ladders
    assert (
        main(["analytics", "backfill", "--sqlite", sqlite, "--config", config, *registry, *span])
        == 0
    )
    return folder


FLOOD_ALERT = f"genangan/{PASAR}/wl1@1"
FAILED = {
    "version": "0.2.0",
    "result": "rolled_back",
    "reason": "health.not_published",
    "detail": "running",
    "rollout": "0.2.0-r1",
    "time": 0,  # set by data(): 10 minutes ago
}


def seed_releases(registry: Path) -> None:
    """What `jagajalan firmware rollout` and `jagajalan registry firmware set` would have
    written: Sarolangun's two gateways should run 0.2.0, level sensors WL-2.08."""
    from registry import db
    from registry.desired import set_firmware, set_group

    engine = db.engine_for(f"sqlite+pysqlite:///{registry}")
    set_group(engine, "Sarolangun", [PASAR, PAUH], version="0.2.0", counter=2, rollout="0.2.0-r1")
    set_firmware(engine, "level-ultrasonic-generic", "WL-2.08")
    engine.dispose()


def seed_alerts(registry: Path, now_ms: int) -> None:
    """What the alerts service would have written: Pasar's water at siaga (firing), an
    offline gateway acknowledged, and an alert already over (not shown)."""
    import datetime as dt

    from sqlalchemy.orm import Session

    from registry import db
    from registry.models import AlertRow

    at = dt.datetime.fromtimestamp(now_ms / 1000 - 1800, dt.UTC)

    def row(id_: str, rule: str, gateway: str, sensor: str, level: str, **more: object) -> AlertRow:
        where = dict(rule=rule, gateway=gateway, sensor=sensor, level=level, value=None)
        return alert_row(id_, at, **(where | more))

    engine = db.engine_for(f"sqlite+pysqlite:///{registry}")
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                row(FLOOD_ALERT, "genangan", PASAR, "wl1", "siaga"),
                row(
                    f"gateway-offline/{PAUH}/-@1",
                    "gateway-offline",
                    PAUH,
                    "",
                    "raised",
                    severity="critical",
                    state="acknowledged",
                    acknowledged_by="piket-pupr",
                ),
                row(f"genangan/{PAUH}/wl1@1", "genangan", PAUH, "wl1", "awas", state="resolved"),
            ]
        )
    engine.dispose()


def api_args(data: Path, *more: str) -> list[str]:
    return [
        "--sqlite",
        str(data / "store.sqlite"),
        "--registry-db",
        str(data / REGISTRY_FILE),
        "--rate-public",
        "0",  # several page loads a minute: not what this test is about
        *more,
    ]


@pytest.fixture(scope="module")
def served(built: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API with open reads (as the demo runs it)."""
    with built_api(
        built, tmp_path_factory.mktemp("api"), api_args(data, "--public-read", "all")
    ) as url:
        yield url


def only_here(requests: list[str], base: str) -> None:
    assert requests, "the network log shows no request of the page"
    outside = [url for url in requests if not url.startswith(base + "/")]
    assert outside == [], f"/peta asked another host: {outside}"


def test_the_build_ships_leaflet_and_uplot_unchanged(built: Path) -> None:
    for lib in ("leaflet", "uplot"):
        readme = (STATIC / lib / "README.md").read_text()
        rows = re.findall(r"^\| `([\w.-]+)` \| `([0-9a-f]{64})` \|$", readme, re.M)
        files = [(name, digest) for name, digest in rows if not name.endswith(".tgz")]
        assert len(files) >= 2, readme
        for name, digest in files:
            found = list((built / "api" / "static" / lib).rglob(name))
            assert len(found) == 1, (lib, name)
            assert hashlib.sha256(found[0].read_bytes()).hexdigest() == digest, name
        assert (built / "api" / "static" / lib / "LICENSE").is_file()
    for name in ("peta.js", "peta-chart.js", "peta-alerts.js", "peta-releases.js", "peta.css"):
        assert (built / "api" / "static" / "page" / name).is_file()


def test_the_page_shows_every_site_with_its_states_values_and_chart(
    served: str, tmp_path: Path
) -> None:
    url = f"{served}/peta?site=pasar-sarolangun"
    loaded = load_offline(url, tmp_path / "chromium", budget_ms=35_000)
    only_here(loaded.requests, served)
    assert f"{served}/sites/latest" in loaded.requests
    assert any(u.startswith(f"{served}/series?") for u in loaded.requests), loaded.requests
    shown = read_overview(loaded.dom)
    api = httpx.get(f"{served}/sites/latest", timeout=10).json()
    assert shown.problem is None, shown.problem_text
    assert shown.updated.startswith("Keadaan pada ") and shown.updated.endswith(" WIB.")
    # Every site of the registry, in the list and on the map, with the API's states.
    assert set(shown.cards) == {s["id"] for s in api["sites"]} and len(shown.cards) == 12
    assert set(shown.pins) == set(shown.cards)
    for site in api["sites"]:
        card = shown.cards[site["id"]].attrs
        assert card["data-online"] == {True: "true", False: "false", None: "null"}[site["online"]]
        assert card["data-flood"] == (site["flood"] or {}).get("status", "")
        assert card["data-ispu-colour"] == (site["air"] or {}).get("colour", "")
        assert card["data-los"] == ((site["traffic"] or {}).get("los") or "")
        state = {True: "online", False: "offline", None: "unknown"}[site["online"]]
        assert state in shown.pins[site["id"]].split()
        assert site["name"] in shown.cards[site["id"]].text
    # What the known readings mean, in words and colours.
    pasar, pauh = shown.cards["pasar-sarolangun"], shown.cards["pauh"]
    assert pasar.attrs["data-online"] == "true" and pauh.attrs["data-online"] == "false"
    assert pasar.attrs["data-ispu-colour"] == "#cccc00" and "Tidak Sehat" in pasar.text
    assert pauh.attrs["data-ispu-colour"] == "#00cc00" and "Baik" in pauh.text
    assert pasar.attrs["data-flood"] not in ("", "normal") and pasar.attrs["data-los"] != ""
    assert pasar.attrs["data-flood-colour"] not in ("", "#2e7d32")  # not green: water on the road
    assert f"Gateway {PASAR}: Tersambung" in pasar.text and f"Gateway {PAUH}: Terputus" in pauh.text
    assert re.search(r"air_quality\.pm25 \(env1\)\s+120 µg/m³", pasar.text), pasar.text
    assert re.search(r"water_level\.level \(wl1\)\s+25 cm", pasar.text), pasar.text
    assert re.search(r"traffic\.count \(cnt1\)\s+8 kendaraan", pasar.text), pasar.text
    assert "vehicles" not in pasar.text  # units in words are in the page's language
    assert shown.cards["singkut"].attrs["data-online"] == "null"  # no gateway data there
    # The active alerts: the flood at Pasar and the acknowledged offline gateway, not the
    # one that is over; in words of the page's language, with the site's name.
    section = re.search(r'<section id="alerts"[^>]*>(.*?)</section>', loaded.dom, re.S)
    assert section is not None and 'data-count="2"' in loaded.dom, loaded.dom[:2000]
    items = re.findall(
        r'<li class="alert (\w+)"[^>]*data-alert="([^"]+)"[^>]*>([^<]*)</li>', section.group(1)
    )
    assert [(sev, alert) for sev, alert, _ in items] == [  # as GET /alerts lists them
        ("critical", f"gateway-offline/{PAUH}/-@1"),
        ("warning", FLOOD_ALERT),
    ]
    offline_text, flood_text = items[0][2], items[1][2]
    assert flood_text.startswith("genangan: Siaga di Jl. Lintas Sumatera, Pasar Sarolangun, sejak ")
    assert "(sudah ditangani)" in offline_text and "gateway-offline di " in offline_text
    # The chart of ?site=: a minute per point over the three hours, drawn by uPlot.
    assert shown.chart["data-site"] == "pasar-sarolangun" and shown.chart["data-drawn"] == "true"
    assert shown.chart["data-field"] == "water_level.level"
    assert int(shown.chart["data-points"]) >= 120 and shown.canvases == 1
    # It refreshed itself (every 30 s; 35 s of the browser's virtual time).
    assert int(shown.body["data-refreshes"]) >= 2
    assert loaded.requests.count(f"{served}/sites/latest") >= 2
    screenshot(url, tmp_path / "overview.png", tmp_path / "shot", budget_ms=8_000)


def test_the_page_lists_what_is_behind_the_latest_release(served: str, tmp_path: Path) -> None:
    """Gateways behind their group's release, the failed update first with the updater's
    reason in words; level sensors whose firmware is not the desired one (Pasar's wl1 reports
    it and is not listed); in English with ?lang=en."""
    url = f"{served}/peta"
    loaded = load_offline(url, tmp_path / "chromium", budget_ms=8_000)
    only_here(loaded.requests, served)
    assert f"{served}/releases" in loaded.requests
    assert 'data-gateways="2"' in loaded.dom and 'data-nodes="2"' in loaded.dom
    items = releases_shown(loaded.dom)
    api = httpx.get(f"{served}/releases", timeout=10).json()
    assert [(a["gateway"], a.get("device")) for a, _ in items] == [
        (PASAR, None),
        (PAUH, None),
        *((n["gateway"], n["device"]) for n in api["nodes_behind"]),
    ]
    assert (PASAR, "wl1") not in {(n["gateway"], n["device"]) for n in api["nodes_behind"]}
    (failed, text), (quiet, quiet_text) = items[0], items[1]
    assert failed["class"] == "gateway failed" and failed["reason"] == "health.not_published"
    assert text.startswith(f"Gateway {PASAR} (Sarolangun): menjalankan 0.1.0, seharusnya 0.2.0")
    assert "Pembaruan terakhir ke 0.2.0: gagal, dikembalikan ke versi sebelumnya, " in text
    assert re.search(r"sebelumnya, \d\d-\d\d-\d{4} \d\d:\d\d WIB\. Sebabnya: ", text), text
    assert tr("health.not_published", "id", detail="running") in text
    assert quiet["failed"] == "false"
    assert quiet_text.endswith("menjalankan versi yang tidak diketahui, seharusnya 0.2.0")
    node, node_text = items[2]
    assert node["class"] == "node" and node["firmware"] == ""
    assert "seharusnya WL-2.08" in node_text and "Simpul wl1 di " in node_text
    screenshot(url, tmp_path / "releases.png", tmp_path / "shot", budget_ms=8_000)
    english = load_offline(f"{url}?lang=en", tmp_path / "chromium-en", budget_ms=8_000)
    (_, text_en), *_ = releases_shown(english.dom)
    assert "runs 0.1.0, should run 0.2.0" in text_en and "failed, rolled back" in text_en
    assert tr("health.not_published", "en", detail="running") in text_en
    assert "Software updates" in english.dom and "seharusnya" not in english.dom


def test_the_page_in_english(served: str, tmp_path: Path) -> None:
    loaded = load_offline(f"{served}/peta?lang=en", tmp_path / "chromium", budget_ms=8_000)
    only_here(loaded.requests, served)
    shown = read_overview(loaded.dom)
    assert "<h1>Road conditions map</h1>" in loaded.dom
    assert shown.updated.startswith("Data as of ") and shown.updated.endswith(" WIB.")
    pasar, pauh = shown.cards["pasar-sarolangun"].text, shown.cards["pauh"].text
    assert f"Gateway {PASAR}: Online" in pasar and "Unhealthy" in pasar
    assert f"Gateway {PAUH}: Offline" in pauh and "Good" in pauh
    assert re.search(r"traffic\.count \(cnt1\)\s+8 vehicles", pasar), pasar
    assert "Tersambung" not in loaded.dom and "Genangan" not in loaded.dom
    assert shown.chart.get("data-drawn") is None  # no site named: the hint, no chart
    assert tr("page.chart_hint", "en") in loaded.dom


def test_without_access_the_page_says_why_and_how_to_fix_it(
    built: Path, data: Path, tmp_path: Path
) -> None:
    with built_api(built, tmp_path / "api", api_args(data)) as url:  # no --public-read
        assert httpx.get(f"{url}/sites/latest", timeout=10).status_code == 401
        loaded = load_offline(f"{url}/peta", tmp_path / "chromium", budget_ms=8_000)
    only_here(loaded.requests, url)
    shown = read_overview(loaded.dom)
    assert shown.cards == {}
    assert shown.problem is not None and shown.problem["data-problem"] == "unauthorized"
    assert tr("page.unauthorized", "id") in shown.problem_text
    assert "--public-read all" in shown.problem_text
    assert 'id="api-key"' in loaded.dom  # where to enter a key


def test_tiles_from_the_configured_tile_server_only(
    built: Path, data: Path, tmp_path: Path
) -> None:
    tile = (STATIC / "leaflet" / "images" / "layers.png").read_bytes()  # any PNG will do
    asked: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tiles = f"http://127.0.0.1:{server.server_port}"
    args = api_args(data, "--public-read", "all", "--map-tiles", tiles + "/{z}/{x}/{y}.png")
    try:
        with built_api(built, tmp_path / "api", args) as url:
            loaded = load_offline(f"{url}/peta", tmp_path / "chromium", budget_ms=8_000)
    finally:
        server.shutdown()
        server.server_close()
    outside = [u for u in loaded.requests if not u.startswith((url + "/", tiles + "/"))]
    assert outside == [], outside
    assert asked and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in asked), asked
    shown = read_overview(loaded.dom)
    assert shown.tiles > 0 and len(shown.cards) == 12
