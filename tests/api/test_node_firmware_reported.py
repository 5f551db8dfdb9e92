"""A sensor node's firmware version from the node to ``/releases`` (issue 14): two emulated
Modbus nodes on one RS-485 line (a pymodbus RTU server on a real pseudo-terminal) answer their
profiles' ``[info.firmware]`` registers; the gateway's real ModbusDrivers read them and the
gateway's own health code puts them in its status, published to a real Mosquitto as the
gateway publishes it; real ingest stores ``jagajalan_device_status.firmware`` in a real
InfluxDB; the API shows each node's version in ``/gateways/{id}`` and, with the example
registry (SQLite) and a desired firmware per profile, the node whose version differs in
``/releases`` ``nodes_behind`` while the one on the desired version is not listed.

The status is published by the test's MQTT client rather than by the gateway process's
publisher (tests/api/test_gateway_status.py does the same; the gateway's own publishing is
tested in tests/gateway/runtime)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest

from api.access import open_reads
from api.app import create_app
from gateway.devices.modbus.bus import BusPool
from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.runtime.health import Health
from gateway.runtime.spool import Spool
from ingest.service import IngestService, IngestSettings, MqttSettings
from registry import db
from registry.desired import set_firmware
from registry.read import RegistryReader
from simulators.devices.modbus import ModbusBusSim, SimSpec
from simulators.devices.serial_link import SerialLink
from store.influx import InfluxStore
from telemetry import encode_status, topics
from testkit.ingest import Publisher, wait_for
from testkit.services import Influx, mosquitto
from tests.api.test_releases import sync_example

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

GW = "srl-pasar-01"  # in examples/registry.toml, with env1 (pm-th-generic), th1 (th-generic)
SET = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


@pytest.mark.services
def test_node_firmware_reaches_influxdb_gateways_and_releases(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path / 'registry.sqlite3'}")
    db.upgrade(engine)
    sync_example(engine)
    set_firmware(engine, "pm-th-generic", "2.1", now=SET)  # env1 runs it
    set_firmware(engine, "th-generic", "TH-1.05", now=SET)  # th1 runs TH-1.04: behind
    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    pool = BusPool()
    stop = threading.Event()
    with (
        SerialLink(tmp_path / "ttyRS485") as link,
        ModbusBusSim(
            link.device_path,
            [
                SimSpec(1, "pm-th-generic", sensor_id="env1", firmware="2.1"),
                SimSpec(2, "th-generic", sensor_id="th1", firmware="TH-1.04"),
            ],
            update_interval=0.2,
        ),
        mosquitto(tmp_path / "mq") as broker,
        Spool(tmp_path / "spool.sqlite") as spool,
    ):
        drivers = [
            ModbusDriver(
                ModbusConfig(
                    id=sensor,
                    driver="modbus",
                    serial={"port": link.path, "timeout": 0.3},
                    unit=unit,
                    profile=profile,
                    poll_interval=0.3,
                ),
                spool.append,
                pool=pool,
            )
            for sensor, unit, profile in (("env1", 1, "pm-th-generic"), ("th1", 2, "th-generic"))
        ]
        threads = [threading.Thread(target=d.run, args=(stop,), daemon=True) for d in drivers]
        for t in threads:
            t.start()
        settings = IngestSettings(
            MqttSettings(url=broker.url, client_id=f"ingest.{uuid.uuid4().hex[:8]}"),
            max_delay=0.05,
        )
        service = IngestService(settings, store)
        service.start()
        pub = Publisher(broker.port)
        registry = RegistryReader(engine, cache_seconds=0)
        client = TestClient(create_app(store, access=open_reads(), registry=registry))
        try:
            wait_for(
                lambda: all(d.state == "ok" and "firmware" in d.info for d in drivers),
                10,
                "both nodes polled and their versions read",
            )
            assert service.subscribed.wait(10)
            status = Health(GW, spool, lambda: drivers, clock=time.time).status("online")
            assert status.model_extra["firmware"] == {"env1": "2.1", "th1": "TH-1.04"}
            pub.send(topics.status(GW), encode_status(status), retain=True)

            def devices() -> dict[str, str | None]:
                r = client.get(f"/gateways/{GW}")  # 404 until ingest stored the status
                body = r.json() if r.status_code == 200 else {"devices": []}
                return {d["device"]: d["firmware"] for d in body["devices"]}

            wait_for(lambda: devices() == {"env1": "2.1", "th1": "TH-1.04"}, 15, "firmware")
            releases = client.get("/releases").json()
        finally:
            stop.set()
            for t in threads:
                t.join(5)
            pub.close()
            service.stop()
            store.close()
            engine.dispose()
    stored = influx.query(
        "SELECT last(firmware) FROM jagajalan_device_status GROUP BY device", db=influx_db
    )
    by_device = {s["tags"]["device"]: s["values"][0][1] for s in stored["results"][0]["series"]}
    assert by_device == {"env1": "2.1", "th1": "TH-1.04"}
    behind = {(n["gateway"], n["device"]): n for n in releases["nodes_behind"]}
    assert (GW, "env1") not in behind, "env1 reports the desired 2.1"
    assert behind[(GW, "th1")] == {
        "gateway": GW,
        "device": "th1",
        "profile": "th-generic",
        "desired": "TH-1.05",
        "firmware": "TH-1.04",
        "state": "ok",
    }
    firmware = {f["profile"]: (f["version"], f["behind"]) for f in releases["firmware"]}
    assert firmware["th-generic"][0] == "TH-1.05" and firmware["pm-th-generic"][0] == "2.1"
