"""`jagajalan demo` (what `make demo` runs) serves data from both gateways within 30 s.

Runs the real demo: embedded amqtt broker, emulated devices on pseudo-terminals, two gateway
processes, ingest into SQLite and the API, then stops it like Ctrl-C does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from testkit import children
from testkit.services import free_port


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
    try:
        while time.monotonic() - started < 30 and seen != {"srl-pasar-01", "srl-pauh-01"}:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                rows = httpx.get(f"{api}/readings/latest", timeout=2).json()
                seen = {row["gateway"] for row in rows}
            except (httpx.HTTPError, ValueError):
                pass
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
