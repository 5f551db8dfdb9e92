"""`jagajalan demo` (what `make demo` runs) serves data from both gateways within 30 s, their
Modbus nodes' firmware versions in /gateways, and its overview page (/peta) shows both
gateways and their values in headless Chromium.

Runs the real demo: embedded amqtt broker, emulated devices on pseudo-terminals, two gateway
processes, ingest into SQLite and the API, then stops it like Ctrl-C does. The page is checked
in the same run (one demo start for both: `make test` has little time to spare); its
screenshot is kept in the test's folder and, for the record, in
var/test-artifacts/overview.png.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from testkit import REPO, children
from testkit.browser import load_offline, screenshot
from testkit.demo_api import DemoApi
from testkit.ingest import wait_for
from testkit.overview import read_overview
from testkit.services import free_port

SITES = {"pasar-sarolangun": "srl-pasar-01", "pauh": "srl-pauh-01"}  # examples/registry.toml


def check_overview_page(api: str, tmp_path: Path) -> None:
    """The demo's /peta shows both simulated gateways online, with their values."""

    def both_with_values() -> bool:
        sites = httpx.get(f"{api}/sites/latest", timeout=5).json()["sites"]
        return all(any(s["id"] == i and s["latest"] for s in sites) for i in SITES)

    wait_for(both_with_values, 20, "both demo sites with values in /sites/latest")
    assert f"{api}/peta" in (tmp_path / "demo.log").read_text()  # the banner points at it
    url = f"{api}/peta?site=pasar-sarolangun"
    loaded = load_offline(url, tmp_path / "chromium", budget_ms=8_000)
    outside = [u for u in loaded.requests if not u.startswith(api + "/")]
    assert outside == [], outside
    shown = read_overview(loaded.dom)
    for site, gateway in SITES.items():
        card = shown.cards[site]
        assert card.attrs["data-online"] == "true", card.text
        assert f"Gateway {gateway}: Tersambung" in card.text, card.text
        assert re.search(r"air_quality\.pm25 \(\w+\)\s+[\d.,]+ µg/m³", card.text), card.text
        assert "online" in shown.pins[site].split()
    assert shown.chart.get("data-site") == "pasar-sarolangun"
    assert int(shown.chart.get("data-points", "0")) > 0, shown.chart
    png = screenshot(url, tmp_path / "overview.png", tmp_path / "shot", budget_ms=8_000)
    kept = REPO / "var" / "test-artifacts"
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, kept / "overview.png")


def node_firmware(api: str) -> dict[str, dict[str, str | None]]:
    """Device id -> gateway -> the firmware /gateways shows for it."""
    found: dict[str, dict[str, str | None]] = {}
    for gw in httpx.get(f"{api}/gateways", timeout=5).json():
        for d in gw["devices"]:
            found.setdefault(d["device"], {})[gw["gateway"]] = d["firmware"]
    return found


def test_demo_serves_latest_readings_from_both_gateways(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.log").open("wb")
    started = time.monotonic()
    proc = children.start(
        [
            sys.executable,
            "-m",
            "jagajalan.cli",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--api-port",
            str(port),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    seen: set[str] = set()
    client = DemoApi(api)
    try:
        while time.monotonic() - started < 30 and seen != {"srl-pasar-01", "srl-pauh-01"}:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            seen = {row["gateway"] for row in client.listing("/readings/latest")}
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert seen == {"srl-pasar-01", "srl-pauh-01"}, (tmp_path / "demo.log").read_text()
        assert elapsed < 30
        health = httpx.get(f"{api}/health", timeout=5).json()
        assert health["store"] == {"ok": True, "backend": "sqlite", "problem": None}
        assert health["broker"]["ok"] is True
        # The API reads the demo's registry: the district's sites with their gateways' values.
        sites = {s["id"]: s for s in httpx.get(f"{api}/sites/latest", timeout=5).json()["sites"]}
        assert {v["gateway"] for v in sites["pasar-sarolangun"]["latest"]} == {"srl-pasar-01"}
        assert {v["gateway"] for v in sites["pauh"]["latest"]} == {"srl-pauh-01"}
        # Each gateway reports its emulated node's firmware (pm-th-generic's [info.firmware]).
        wait_for(
            lambda: node_firmware(api).get("env1") == {"srl-pasar-01": "1.0", "srl-pauh-01": "1.0"},
            20,
            "env1's firmware in /gateways",
        )
        check_overview_page(api, tmp_path)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    logs = tmp_path / "demo" / "logs"
    for name in ("gateway-srl-pasar-01", "gateway-srl-pauh-01", "ingest", "api"):
        text = (logs / f"{name}.log").read_text()
        assert "Traceback" not in text, text
    gateway_log = (logs / "gateway-srl-pasar-01.log").read_text()
    assert "stopped" in gateway_log
