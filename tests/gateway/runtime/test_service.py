"""The gateway against real Mosquitto brokers: delivery, status and health, backlog replay,
Last Will, outage, compact encoding, full disk. Security: tests/gateway/runtime/test_security.py.

The devices are ``test_emit`` drivers (testkit/gateway.py), registered for each test.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import time
from pathlib import Path

import pytest

from telemetry.codec import decode_batch
from testkit.gateway import (
    T0,
    EmitDriver,
    Subscriber,
    batches,
    current_status,
    emit_device,
    expected_readings,
    make_config,
    received_readings,
    register_emit_driver,
    running,
    wait_until,
    write_config,
)
from testkit.procs import start_gateway, stop
from testkit.services import Mosquitto, free_port, write_mosquitto_conf

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _emit_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    register_emit_driver(monkeypatch)


def test_every_reading_arrives_once_in_seq_order_with_status(
    broker: Mosquitto, tmp_path: Path
) -> None:
    gw = "gw-deliver"
    devices = [emit_device("c1", 237, chunk=7), emit_device("c2", 60, period=0.005)]
    config = make_config(tmp_path, gw, broker.url, devices)
    with Subscriber(broker.port, [f"jagajalan/v1/{gw}/#"]) as sub, running(config) as service:
        assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 297)
        assert wait_until(lambda: service.spool.depth() == 0)  # every batch acked
        status_topic = f"jagajalan/v1/{gw}/status"
        assert sub.wait_for(  # device states change -> a fresh status (at most 1 per second)
            lambda: any(
                m.json()["devices"] == {"c1": "ok", "c2": "ok"} for m in sub.on(status_topic)
            )
        )
        got = batches(sub, gw)
        online = [m.json() for m in sub.on(status_topic)]
    readings = received_readings(sub, gw)
    assert sorted(readings) == sorted(expected_readings("c1", 237) + expected_readings("c2", 60))
    assert len(readings) == len(set(readings))  # no duplicates
    seqs = [b["seq"] for b in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # +1 per batch, no gap
    assert all(b["gateway"] == gw and 1 <= len(b["readings"]) <= 50 for b in got)
    assert all(s["state"] == "online" and s["version"] and s["gateway"] == gw for s in online)
    assert online[-1]["devices"] == {"c1": "ok", "c2": "ok"}
    assert isinstance(online[-1]["spool_depth"], int) and online[-1]["dropped"] == 0
    # A clean stop replaces the retained status with the gateway's own "offline".
    final = current_status(broker.port, gw)
    assert final is not None and final["state"] == "offline" and "time" in final


def test_seq_continues_across_restarts(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-restart"
    seqs: list[list[int]] = []
    with Subscriber(broker.port, [f"jagajalan/v1/{gw}/readings"]) as sub:
        for run in range(2):
            config = make_config(tmp_path, gw, broker.url, [emit_device("c1", 30, chunk=10)])
            with running(config) as service:
                target = 30 * (run + 1)
                assert sub.wait_for(lambda t=target: len(received_readings(sub, gw)) >= t)
                assert wait_until(lambda s=service: s.spool.depth() == 0)
            seqs.append([b["seq"] for b in batches(sub, gw)])
    first, both = seqs
    later = both[len(first) :]
    assert later and min(later) > max(first)


def test_a_crashing_driver_is_isolated_and_restarted(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gw = "gw-crash"
    devices = [emit_device("bad", 0, crash=True), emit_device("good", 40, chunk=4)]
    config = make_config(tmp_path, gw, broker.url, devices)
    caplog.set_level(logging.INFO)
    with Subscriber(broker.port, [f"jagajalan/v1/{gw}/#"]) as sub, running(config) as service:
        assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 40)
        assert sub.wait_for(
            lambda: any(
                m.json()["devices"] == {"bad": "error", "good": "ok"}
                for m in sub.on(f"jagajalan/v1/{gw}/status")
            )
        )
        bad = service.drivers[0]
        assert isinstance(bad, EmitDriver)
        assert wait_until(lambda: bad.runs >= 2)  # restarted after reopen_interval
        assert service.device_states() == {"bad": "error", "good": "ok"}
    assert sorted(received_readings(sub, gw)) == expected_readings("good", 40)
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crashes[0].exc_info is not None  # logged with its traceback
    assert "simulated driver bug in bad" in caplog.text


def test_broker_down_at_start_then_up_delivers_everything(tmp_path: Path) -> None:
    gw = "gw-outage"
    port = free_port()
    workdir = tmp_path / "broker"
    broker = Mosquitto(port, workdir, write_mosquitto_conf(workdir, port))
    # A persistent session for the subscriber, so it misses nothing whoever reconnects first.
    broker.start()
    sub = Subscriber(port, [f"jagajalan/v1/{gw}/readings"], client_id="outage-sub")
    with sub:
        broker.stop()
        config = make_config(
            tmp_path, gw, broker.url, [emit_device("c1", 120, chunk=10, period=0.02)]
        )
        try:
            with running(config) as service:
                assert wait_until(lambda: len(service.drivers[0].emitted) == 120)
                assert service.spool.depth() == 120
                assert not service.publisher.connected
                broker.start()
                assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 120, timeout=20)
                assert wait_until(lambda: service.spool.depth() == 0)
        finally:
            broker.stop()
    readings = received_readings(sub, gw)
    assert sorted(readings) == expected_readings("c1", 120)
    assert len(readings) == 120


def test_last_will_marks_a_killed_gateway_offline(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-killed"
    config = write_config(tmp_path, gw, broker.url, [emit_device("c1", 5)])
    proc = start_gateway(config, tmp_path / "gateway.log")
    try:
        assert wait_until(
            lambda: (current_status(broker.port, gw) or {}).get("state") == "online", timeout=20
        ), (tmp_path / "gateway.log").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: (current_status(broker.port, gw) or {}).get("state") == "offline")
        # Exactly the Last Will registered at connect (a clean stop would add time etc.).
        assert current_status(broker.port, gw) == {"v": 1, "gateway": gw, "state": "offline"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_cleanly_with_exit_0(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-sigterm"
    config = write_config(tmp_path, gw, broker.url, [emit_device("c1", 5)])
    log = tmp_path / "gateway.log"
    with Subscriber(broker.port, [f"jagajalan/v1/{gw}/readings"]) as sub:
        proc = start_gateway(config, log)
        try:
            assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 5, timeout=20), (
                log.read_text()
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    status = current_status(broker.port, gw)
    assert status is not None and status["state"] == "offline" and "uptime" in status
    assert "received SIGTERM" in log.read_text()
    assert json.loads(sub.on(f"jagajalan/v1/{gw}/readings")[0].payload)["gateway"] == gw


GPS_INFO = {
    "fix": True,
    "satellites": 8,
    "position": {"latitude": -2.2985, "longitude": 102.7045, "altitude": 61.5},
    "clock_offset": 0.25,
}


def test_status_and_gateway_health_report_devices_spool_and_gps(
    broker: Mosquitto, tmp_path: Path
) -> None:
    gw = "gw-health"
    devices = [
        emit_device("env1", 30, chunk=5, bad_frames=2, info={"firmware": "2.1.0"}),
        emit_device("gps1", 0, info=GPS_INFO),
    ]
    config = make_config(tmp_path, gw, broker.url, devices, publish={"health_interval": 1.0})
    readings_topic, status_topic = f"jagajalan/v1/{gw}/readings", f"jagajalan/v1/{gw}/status"

    def health() -> list[dict]:
        return [
            r
            for b in batches(sub, gw)
            for r in b["readings"]
            if r["measurement"] == "gateway_health"
        ]

    with Subscriber(broker.port, [f"jagajalan/v1/{gw}/#"]) as sub, running(config):
        assert sub.wait_for(lambda: len(health()) >= 2)
        assert sub.wait_for(
            lambda: any(
                m.json()["devices"] == {"env1": "ok", "gps1": "ok"} for m in sub.on(status_topic)
            )
        )
        assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 30 + 2)
    online = [m.json() for m in sub.on(status_topic) if m.json()["state"] == "online"]
    status = [s for s in online if s["devices"].get("gps1") == "ok"][-1]
    assert status["state"] == "online" and status["version"] and status["uptime"] >= 0
    assert status["errors"] == {"env1": {"crc_error": 2}}  # per-device error counts
    assert status["firmware"] == {"env1": "2.1.0"}
    assert status["position"] == GPS_INFO["position"] and status["clock_offset"] == 0.25
    assert status["info"] == {"gps1": {"fix": True, "satellites": 8}}
    assert isinstance(status["spool_depth"], int) and isinstance(status["spool_oldest_age"], float)
    assert status["dropped"] == 0 and status["spool_errors"] == 0
    # gateway_health readings come through the spool, as sensor "gateway", one a second.
    points = health()
    assert all(r["sensor"] == "gateway" for r in points)
    last = points[-1]["fields"]
    assert set(last) == {
        "uptime",
        "spool_depth",
        "spool_oldest_age",
        "dropped",
        "decode_errors",
        "devices_ok",
        "devices_total",
        "clock_offset",
    }
    assert (last["decode_errors"], last["devices_ok"], last["devices_total"]) == (2, 2, 2)
    assert last["clock_offset"] == 0.25 and last["dropped"] == 0
    uptimes = [p["fields"]["uptime"] for p in points]
    assert uptimes == sorted(uptimes) and uptimes[-1] > uptimes[0]
    assert [m for m in sub.on(readings_topic) if m.retain] == []


def test_backlog_replays_oldest_first_at_the_rate_while_fresh_readings_go_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """300 readings wait in the spool (broker down) while another device keeps taking one
    every 0.1 s. Once the broker is up, the backlog drains at replay_rate = 50/s in batches of
    25, oldest first per sensor, and the live readings go out as they come."""
    gw, rate, batch = "gw-replay", 50.0, 25
    port = free_port()
    workdir = tmp_path / "broker"
    broker = Mosquitto(port, workdir, write_mosquitto_conf(workdir, port))
    broker.start()
    caplog.set_level(logging.INFO, logger="gateway.runtime.publisher")
    sub = Subscriber(port, [f"jagajalan/v1/{gw}/readings"], client_id="replay-sub")
    devices = [
        emit_device("old", 300, chunk=50),
        emit_device("live", 100_000, period=0.1),
    ]
    publish = {"replay_rate": rate, "max_batch": batch, "max_inflight": 4, "health_interval": 0}
    config = make_config(tmp_path, gw, broker.url, devices, publish=publish)
    try:
        with sub:
            broker.stop()
            with running(config) as service:
                old, live = service.drivers  # type: ignore[misc]
                assert wait_until(lambda: len(old.emitted) == 300)
                time.sleep(1.0)
                up = time.time()  # the gateway cannot connect before this
                broker.start()
                assert sub.wait_for(
                    lambda: (
                        {t for s, t in received_readings(sub, gw) if s == "old"}
                        >= {T0 + i for i in range(300)}
                    ),
                    timeout=60,
                )
                time.sleep(1.0)
                assert isinstance(live, EmitDriver)
            # Read once the service has stopped: its stop flushes readings taken after the
            # wait above, and the subscriber receives them too.
            taken = dict(live.taken)
    finally:
        broker.stop()
    first_arrival: dict[tuple[str, int], float] = {}
    order: list[tuple[str, int]] = []
    for m in sub.on(f"jagajalan/v1/{gw}/readings"):
        for r in m.json()["readings"]:
            key = (r["sensor"], r["time"] - T0)
            if key not in first_arrival:
                first_arrival[key] = m.at
                order.append(key)
    start = min(first_arrival.values())  # the first batch after the broker came up
    # Backlog: taken before the broker was up. Fresh: taken after a batch had arrived, so
    # after the gateway connected. (Readings taken in between may be either: left out.)
    backlog = [k for k in order if k[0] == "old" or taken[k[1]] < up]
    fresh = [k for k in order if k[0] == "live" and taken[k[1]] > start]
    # Oldest first within each lane and each sensor.
    for sensor in ("old", "live"):
        in_lane = [i for s, i in backlog if s == sensor]
        assert in_lane == sorted(in_lane), sensor
        assert [i for s, i in fresh if s == sensor] == sorted(i for s, i in fresh if s == sensor)
    drained = max(first_arrival[k] for k in backlog)
    # Fresh readings did not wait for the backlog: every one taken well before the backlog
    # was drained had arrived before it was.
    early = [k for k in fresh if taken[k[1]] < drained - 1.5]
    assert early, "no fresh reading was taken while the backlog drained"
    assert all(first_arrival[k] < drained for k in early)
    # Rate: at most rate * (T + 1) + max_batch in T seconds (generous 20 % timing slack),
    # and not stalled either.
    duration = drained - start
    assert duration >= 0.8 * ((len(backlog) - batch) / rate - 1), (len(backlog), duration)
    assert duration <= 4 * len(backlog) / rate + 5, (len(backlog), duration)
    assert "replaying" in caplog.text and "backlog replayed" in caplog.text


def test_compact_encoding_delivers_the_same_readings(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-compact"
    config = make_config(
        tmp_path,
        gw,
        broker.url,
        [emit_device("c1", 120, chunk=40)],
        publish={"encoding": "compact"},
    )
    topic = f"jagajalan/v1/{gw}/readings"
    with Subscriber(broker.port, [topic]) as sub, running(config):
        assert sub.wait_for(
            lambda: sum(len(decode_batch(m.payload).readings) for m in sub.on(topic)) >= 120
        )
    payloads = [m.payload for m in sub.on(topic)]
    assert all(p[0] == 0xC1 for p in payloads)  # the compact marker, not JSON
    got = [(r.sensor, r.time) for p in payloads for r in decode_batch(p).readings]
    assert sorted(got) == expected_readings("c1", 120)


def test_a_full_disk_loses_readings_counted_but_never_crashes(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """The spool's file system fills up for real: RLIMIT_FSIZE on the gateway process makes
    every write past 400 kB fail with EFBIG, as a full disk does (no tmpfs can be mounted
    here). The gateway logs it, counts what it could not keep, and carries on."""
    gw = "gw-diskfull"
    config = write_config(
        tmp_path,
        gw,
        broker.url,
        [emit_device("c1", 100_000, chunk=5, period=0.005)],
        publish={"status_interval": 1.0},
    )
    log = tmp_path / "gateway.log"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    proc = start_gateway(config, log, preexec_fn=limit)
    try:
        assert wait_until(
            lambda: (current_status(broker.port, gw) or {}).get("spool_errors", 0) > 0, timeout=60
        ), log.read_text()
        assert proc.poll() is None  # still running
        status = current_status(broker.port, gw) or {}
        assert status["state"] == "online" and status["devices"] == {"c1": "ok"}
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    assert f"cannot write to spool {tmp_path / (gw + '-spool.sqlite')}" in text
    assert "reading(s) lost so far (free disk space?)" in text
    assert "Traceback" not in text
