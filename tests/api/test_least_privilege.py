"""The API with the least privilege, on a real InfluxDB 1.6 with ``auth-enabled = true``: its
user holds exactly what store.privileges grants it (READ), made by ``jagajalan store setup``.
With another service's credentials (ingest's WRITE-only user) it says clearly that it cannot
read: in its log at start, and on /health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.access import open_reads
from api.app import create_app
from jagajalan.cli import main
from store import StoreNotReady
from telemetry.mapping import status_point
from testkit import REPO, children
from testkit.influx_setup import Secured
from testkit.ingest import RECENT, wait_for
from testkit.points import GW1, air, batch_point
from testkit.services import free_port, influxd, wait_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.services

DB = "jagajalan"
CANNOT_READ = "this service's user may not read the database (it needs READ)"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    with influxd(tmp_path / "influx", auth=True) as server:
        s = Secured(server, tmp_path / "secrets")
        s.create_admin()
        assert main(s.setup_args(DB, "ingest", "api")) == 0
        # Written by ingest's user, as in production (recent: the raw policy keeps 90 days).
        s.store("ingest", DB).write(
            [
                air(GW1, RECENT, pm25=41.5),
                batch_point(GW1, 7, RECENT + 500),
                status_point(GW1, "online", RECENT),
            ]
        )
        yield s


def test_the_read_only_user_serves_readings_and_cannot_write(secured: Secured) -> None:
    store = secured.store("api", DB)
    client = TestClient(create_app(store, access=open_reads()))
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["store"]["problem"] is None
    latest = client.get("/readings/latest").json()
    assert [(r["gateway"], r["field"], r["value"]) for r in latest] == [(GW1, "pm25", 41.5)]
    assert client.get("/gateways").json()[0]["last_seq"] == 7
    with pytest.raises(StoreNotReady, match="may not write to database 'jagajalan'") as info:
        store.write([air(GW1, RECENT + 1000, pm25=1.0)])
    assert info.value.missing == "write"
    secured.query(f'DROP DATABASE "{DB}"')
    gone = client.get("/health").json()
    assert gone["status"] == "degraded"
    assert gone["store"]["problem"].startswith("the database does not exist yet")


def test_with_ingests_write_only_login_the_api_reports_it_cannot_read(
    secured: Secured, tmp_path: Path
) -> None:
    client = TestClient(create_app(secured.store("ingest", DB), access=open_reads()))
    health = client.get("/health")
    assert health.status_code == 200  # InfluxDB answers: not a reason to leave the pool
    assert health.json()["status"] == "degraded"
    assert health.json()["store"] == {"ok": True, "backend": "influxdb", "problem": CANNOT_READ}
    r = client.get("/readings/latest")
    assert (r.status_code, r.json()["error"]) == (502, "store_error")

    # The real server, started the way operators start it, says so in its log at start.
    port, log_path = free_port(), tmp_path / "api.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    args = ["api", "run", "--port", str(port), "--influx-url", secured.url, "--influx-db", DB]
    args += ["--influx-username", "jagajalan_ingest"]
    args += ["--influx-password-file", str(secured.password_file("ingest"))]
    with log_path.open("wb") as log:
        proc = children.start(
            [sys.executable, "-m", "jagajalan.cli", *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, timeout=30, proc=proc)
        body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert body["store"]["problem"] == CANNOT_READ
        wait_for(lambda: "store not ready" in log_path.read_text(), 5, "the start-up line")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    text = log_path.read_text()
    assert (
        f"store not ready: InfluxDB at {secured.url}: user 'jagajalan_ingest' may not read "
        "database 'jagajalan' (needs READ, or the database does not exist); api needs READ on "
        "'jagajalan'; fix: this is ingest's user: give api its own (jagajalan_api), made by "
        f"jagajalan store setup --influx-url {secured.url} --influx-db jagajalan"
    ) in text
    assert secured.password("ingest") not in text
