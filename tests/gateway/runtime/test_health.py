"""Gateway health (gateway/runtime/health.py): status details and gateway_health fields from driver
snapshots, and the live Health object over a real spool and real (test) drivers."""

from __future__ import annotations

import math
import threading
from importlib import metadata
from pathlib import Path

import pytest

from gateway.runtime.health import (
    HEALTH_MEASUREMENT,
    HEALTH_SENSOR,
    DeviceSnapshot,
    Health,
    health_fields,
    report_periodically,
    status_details,
)
from gateway.runtime.spool import Spool
from telemetry.codec import decode_status, encode_status
from telemetry.mapping import Point, batch_to_points, status_points
from telemetry.models import Batch
from telemetry.units import FIELDS
from testkit.gateway import EmitConfig, EmitDriver

NOW = 1_764_489_600.0
GPS_INFO = {
    "fix": True,
    "satellites": 9,
    "position": {"latitude": -2.2985, "longitude": 102.7045, "altitude": 61.5},
    "clock_offset": -0.412,
}


def devices() -> list[DeviceSnapshot]:
    return [
        DeviceSnapshot("env1", "ok", {"crc_error": 3, "timeout": 2}, None, {"firmware": "2.1.0"}),
        DeviceSnapshot("cnt1", "decode_error", {"decode_error": 4}, "bad checksum in line 7"),
        DeviceSnapshot("gps1", "ok", {}, None, dict(GPS_INFO)),
        DeviceSnapshot("wx1", "unplugged", {"unplugged": 1}, "/dev/ttyUSB3: gone"),
    ]


def test_status_details_merge_states_errors_firmware_and_gps_facts() -> None:
    details = status_details(devices())
    assert details == {
        "devices": {"env1": "ok", "cnt1": "decode_error", "gps1": "ok", "wx1": "unplugged"},
        "errors": {
            "env1": {"crc_error": 3, "timeout": 2},
            "cnt1": {"decode_error": 4},
            "wx1": {"unplugged": 1},
        },
        "last_error": {"cnt1": "bad checksum in line 7", "wx1": "/dev/ttyUSB3: gone"},
        "firmware": {"env1": "2.1.0"},
        "info": {"gps1": {"fix": True, "satellites": 9}},
        "position": {"latitude": -2.2985, "longitude": 102.7045, "altitude": 61.5},
        "clock_offset": -0.412,
    }


def test_status_details_of_quiet_devices_are_short() -> None:
    assert status_details([DeviceSnapshot("env1", "ok")]) == {"devices": {"env1": "ok"}}


def test_odd_info_values_become_json_safe() -> None:
    snap = DeviceSnapshot(
        "x1", "ok", info={"when": object(), "ratio": math.nan, "clock_offset": "soon"}
    )
    details = status_details([snap])
    assert details["info"]["x1"]["ratio"] is None
    assert details["info"]["x1"]["when"].startswith("<object object")
    assert "clock_offset" not in details  # not a number: not reported as the offset


def test_health_fields_count_decode_errors_and_devices() -> None:
    fields = health_fields(
        uptime=3600.04, spool_depth=12, spool_oldest_age=4.26, dropped=7, devices=devices()
    )
    assert fields == {
        "uptime": 3600.0,
        "spool_depth": 12,
        "spool_oldest_age": 4.3,
        "dropped": 7,
        "decode_errors": 7,  # crc_error 3 + decode_error 4; timeouts are not decode errors
        "devices_ok": 2,
        "devices_total": 4,
        "clock_offset": -0.412,
    }
    # Every field is registered with the type it is sent as (a field's type never changes).
    for name, value in fields.items():
        assert FIELDS[name].kind == ("int" if isinstance(value, int) else "float"), name


def test_health_fields_without_gps_or_backlog() -> None:
    fields = health_fields(
        uptime=1, spool_depth=0, spool_oldest_age=None, dropped=0, devices=devices()[:1]
    )
    assert "clock_offset" not in fields and fields["spool_oldest_age"] == 0.0


@pytest.fixture
def spool(tmp_path: Path):
    with Spool(tmp_path / "spool.sqlite", clock=lambda: NOW) as s:
        yield s


def emit_driver(ident: str, **kw) -> EmitDriver:
    config = EmitConfig(driver="test_emit", id=ident, **kw)
    return EmitDriver(config, lambda readings: None, lambda: NOW)


def test_live_status_and_reading(spool: Spool) -> None:
    gps = emit_driver("gps1", info=GPS_INFO)
    env = emit_driver("env1", info={"firmware": "1.4"})
    env.set_state("crc_error", "bad CRC")
    env.set_state("crc_error", "bad CRC")
    mono = iter([100.0, 160.0, 170.0]).__next__
    health = Health("srl-pasar-01", spool, lambda: [env, gps], clock=lambda: NOW, monotonic=mono)
    status = decode_status(encode_status(health.status("online")))  # as a receiver sees it
    extra = status.model_extra or {}
    # The version of the installed package (a bundle's), not the one written in the source.
    installed = metadata.version("jagajalan")
    assert (status.state, status.version, status.uptime) == ("online", installed, 60.0)
    assert status.time == int(NOW * 1000)
    assert status.devices == {"env1": "crc_error", "gps1": "starting"}
    assert status.errors == {"env1": {"crc_error": 2}}
    assert status.last_error == {"env1": "bad CRC"}  # gps1 is starting, without an error
    assert extra["firmware"] == {"env1": "1.4"}
    assert extra["position"]["latitude"] == -2.2985 and status.clock_offset == -0.412
    assert (status.spool_depth, status.spool_oldest_age, status.dropped) == (0, 0.0, 0)
    assert status.spool_errors == 0
    # What ingest stores of it: the gateway's version, each device's firmware ("" unknown).
    gw_point, *device_points = status_points(status, status.time or 0)
    assert gw_point.fields["version"] == installed
    assert {p.tags["device"]: p.fields["firmware"] for p in device_points} == {
        "env1": "1.4",
        "gps1": "",
    }

    reading = health.reading()
    assert reading is not None
    assert (reading.sensor, reading.measurement) == (HEALTH_SENSOR, HEALTH_MEASUREMENT)
    assert reading.fields["uptime"] == 70.0 and reading.fields["decode_errors"] == 2
    assert reading.fields["devices_ok"] == 0 and reading.fields["devices_total"] == 2
    # Through the InfluxDB mapping: counts are integers, the rest floats.
    [point] = batch_to_points(
        Batch(gateway="srl-pasar-01", seq=0, sent=reading.time, readings=[reading])
    )
    assert point == Point(
        "gateway_health",
        {"gateway": "srl-pasar-01", "sensor": "gateway"},
        {
            "uptime": 70.0,
            "spool_depth": 0,
            "spool_oldest_age": 0.0,
            "dropped": 0,
            "decode_errors": 2,
            "devices_ok": 0,
            "devices_total": 2,
            "clock_offset": -0.412,
        },
        int(NOW * 1000),
    )


def test_no_health_reading_while_the_clock_is_unset(spool: Spool) -> None:
    health = Health("gw-1", spool, lambda: [], clock=lambda: 12.0)  # 1970: clock not set
    assert health.reading() is None
    assert health.status("online").time is None


def test_report_periodically_feeds_the_sink_until_stopped(spool: Spool) -> None:
    health = Health("gw-1", spool, lambda: [emit_driver("c1")], clock=lambda: NOW)
    got: list = []
    stop = threading.Event()

    def sink(readings) -> None:
        got.extend(readings)
        if len(got) >= 3:
            stop.set()

    thread = threading.Thread(target=report_periodically, args=(health, sink, 0.01, stop))
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and len(got) == 3
    assert all(r.measurement == "gateway_health" for r in got)
