"""A failed gateway update is seen on the server: the real gateway process receives signed
commands over a real Mosquitto and writes them beside its spool; the updater (`gateway-update
--command FILE`, its real code) refuses the first (expired) and cannot download the bundle of
the second (HTTP 404 from a loopback download site), and writes each outcome to
update-result.json; the gateway notices the file change and publishes its status at once (not
after `status_interval`, 60 s); real ingest stores it in a real InfluxDB; the API's
`/gateways/{id}` and `/releases` (a SQLite registry with the gateway in a rollout group, and
its counter's profile with a desired node firmware) show the outcome with its reason, and the
node whose reported firmware differs.

Faked: systemd (the path unit that starts the updater: the test starts it once the command
file is there); the broker's ACL (the session's anonymous broker; tests/deploy checks it)."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from api.access import open_reads
from api.app import create_app
from firmware_tools.bundle import SecretKey
from ingest.service import IngestService, IngestSettings, MqttSettings
from jagajalan.cli import main as jagajalan
from kernel import alive
from registry import db
from registry.desired import set_firmware, set_group
from registry.read import RegistryReader
from store.influx import InfluxStore
from telemetry import topics
from testkit import REPO, children
from testkit.gateway import emit_device, wait_until, write_config
from testkit.services import Influx, Mosquitto

from .commands_kit import TARGET, bundle, command, serving, write_keys
from .run_cli import main
from .test_real_gateway_command import publish_retained

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.services

GW = "gw-outcome-1"
REGISTRY = f"""
[[sites]]
id = "uji-pembaruan"
name = "Lokasi uji pembaruan"
road = "Jl. Uji"
kecamatan = "Sarolangun"
latitude = -2.3
longitude = 102.7

[[gateways]]
id = "{GW}"
site = "uji-pembaruan"

[[sensors]]
gateway = "{GW}"
id = "c1"
device = "modbus"
profile = "level-ultrasonic-generic"
"""


def test_refused_and_failed_updates_reach_the_api(
    broker: Mosquitto, influx: Influx, influx_db: str, tmp_path: Path
) -> None:
    key = SecretKey.generate()
    site = tmp_path / "site"
    site.mkdir()
    made = bundle(site, key, "2.0.0", counter=1)
    expired = command(key, GW, "2.0.0", str(made), made, ttl_ms=-1)
    publish_retained(broker.port, topics.command(GW), expired)
    device = emit_device("c1", 0, info={"firmware": "WL-2.07"})
    config = write_config(tmp_path, GW, broker.url, [device])
    inbox = alive.health_file_of(config).parent / "command.json"
    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    settings = IngestSettings(
        MqttSettings(url=broker.url, client_id=f"ingest.{uuid.uuid4().hex[:8]}"), max_delay=0.05
    )
    registry = registry_with_gateway(tmp_path)
    ingest = IngestService(settings, store)
    ingest.start()
    api = TestClient(
        create_app(store, access=open_reads(), registry=RegistryReader(registry, cache_seconds=0))
    )
    updater = [
        *("--root", str(tmp_path / "opt"), "--health-file", str(tmp_path / "release.json")),
        *("--timeout", "10", "--keys", str(write_keys(tmp_path, key)), "--target", TARGET),
        *("--lang", "en", "--config", str(config), "--command", str(inbox)),
    ]

    def shown() -> dict:
        r = api.get(f"/gateways/{GW}")  # 404 until ingest stored its first status
        return r.json() if r.status_code == 200 else {}

    def update() -> dict | None:
        return shown().get("update")

    gateway = children.start(
        [sys.executable, "-m", "testkit.gateway_cli", "gateway", "run", "--config", str(config)],
        cwd=REPO,
    )
    try:
        assert ingest.subscribed.wait(10)
        assert wait_until(lambda: inbox.exists() and inbox.read_bytes() == expired, 20)
        assert wait_until(lambda: shown().get("state") == "online", 20)
        assert update() is None  # no update yet
        assert main(updater, signed=True) == 1
        # 60 s is the status interval: only the file change can bring it within 20 s.
        assert wait_until(lambda: (update() or {}).get("result") == "refused", 20), update()
        refused = update()
        assert (refused["version"], refused["reason"], refused["rollout"]) == (
            "2.0.0",
            "update.command_refused",
            "r-test",
        )
        assert refused["failed"] and refused["detail"].startswith("expired")
        (site / "lost").mkdir()
        with serving(site / "lost") as url:  # the download site lost the bundle
            missing = command(key, GW, "2.0.0", f"{url}/{made.name}", made)
            publish_retained(broker.port, topics.command(GW), missing)
            assert wait_until(lambda: inbox.read_bytes() == missing, 20)
            assert main(updater, signed=True) == 1
        assert wait_until(lambda: (update() or {}).get("result") == "aborted", 20), update()
        aborted = update()
        assert aborted["reason"] == "update.download_failed" and "HTTP 404" in aborted["detail"]
        releases = api.get("/releases").json()
        assert gateway.poll() is None
    finally:
        children.stop(gateway, timeout=10)
        ingest.stop()
        publish_retained(broker.port, topics.command(GW), b"")
        registry.dispose()
    assert [(g["group"], g["behind"], g["failed"]) for g in releases["groups"]] == [("pilot", 1, 1)]
    (behind,) = releases["behind"]
    assert (behind["gateway"], behind["desired"], behind["state"]) == (GW, "2.0.0", "online")
    assert behind["update"] == aborted
    assert releases["nodes_behind"] == [
        {
            "gateway": GW,
            "device": "c1",
            "profile": "level-ultrasonic-generic",
            "desired": "WL-2.08",
            "firmware": "WL-2.07",
            "state": releases["nodes_behind"][0]["state"],
        }
    ]
    assert releases["nodes_behind"][0]["state"] is not None


def registry_with_gateway(tmp_path: Path):
    path = tmp_path / "registry.sqlite3"
    engine = db.engine_for(f"sqlite+pysqlite:///{path}")
    db.upgrade(engine)
    (tmp_path / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    assert (
        jagajalan(
            ["registry", "import", str(tmp_path / "registry.toml"), "--registry-db", str(path)]
        )
        == 0
    )
    set_group(engine, "pilot", [GW], version="2.0.0", counter=1, rollout="r-test")
    set_firmware(engine, "level-ultrasonic-generic", "WL-2.08", now=dt.datetime.now(dt.UTC))
    return engine
