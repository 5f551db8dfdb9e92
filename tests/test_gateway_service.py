"""The gateway against real Mosquitto brokers: delivery, status, auth and ACL, Last Will, outage.

The devices are ``test_emit`` drivers (tests/gateway_helpers.py), registered for each test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from gateway.service import GatewayService
from tests.gateway_helpers import (
    T0,
    EmitDriver,
    Subscriber,
    batches,
    current_status,
    emit_device,
    make_config,
    make_tls_files,
    received_readings,
    register_emit_driver,
    wait_until,
    write_config,
)
from tests.services import Mosquitto, free_port, mosquitto, write_mosquitto_conf

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parent.parent
ACL = """\
# gateways: only their own subtree (docs/protocol.md)
pattern write jagajalan/v1/%u/readings
pattern write jagajalan/v1/%u/status
pattern read  jagajalan/v1/%u/cmd

user ingest
topic read jagajalan/v1/#
"""
PASSWORDS = {
    "gw-auth": "right-horse-battery",
    "gw-locked": "correct-pony-cell",
    "ingest": "ingest-pw",
}
INGEST = {"username": "ingest", "password": "ingest-pw"}


@pytest.fixture(autouse=True)
def _emit_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    register_emit_driver(monkeypatch)


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with mosquitto(tmp_path_factory.mktemp("secure"), passwords=PASSWORDS, acl=ACL) as b:
        yield b


@contextlib.contextmanager
def running(config: GatewayConfig) -> Iterator[GatewayService]:
    service = GatewayService(config)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def expected_readings(device: str, count: int) -> list[tuple[str, int]]:
    return [(device, T0 + i) for i in range(count)]


def password_file(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "mqtt.password"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


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


def test_right_password_publishes_under_acl(secure_broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-auth"
    pw = password_file(tmp_path, PASSWORDS[gw])
    config = make_config(
        tmp_path,
        gw,
        secure_broker.url,
        [emit_device("c1", 25, chunk=5)],
        mqtt={"username": gw, "password_file": str(pw)},
    )
    topic = f"jagajalan/v1/{gw}/#"
    with Subscriber(secure_broker.port, [topic], **INGEST) as sub, running(config) as service:
        assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 25)
        assert wait_until(lambda: service.spool.depth() == 0)
        status = current_status(secure_broker.port, gw, **INGEST)
        assert status is not None and status["state"] == "online"
    assert sorted(received_readings(sub, gw)) == expected_readings("c1", 25)


def test_wrong_password_never_connects_and_is_logged_without_the_secret(
    secure_broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gw = "gw-locked"
    wrong = "wrong-staple-0451"
    pw = password_file(tmp_path, wrong)
    config = make_config(
        tmp_path,
        gw,
        secure_broker.url,
        [emit_device("c1", 10)],
        mqtt={"username": gw, "password_file": str(pw)},
    )
    caplog.set_level(logging.DEBUG, logger="gateway")
    with running(config) as service:
        refusals = lambda: [r for r in caplog.records if "refused the connection" in r.getMessage()]  # noqa: E731
        assert wait_until(lambda: len(refusals()) >= 3)  # it keeps trying ...
        assert not service.publisher.connected
        assert service.spool.depth() == 10  # ... and keeps the readings
    errors = [r for r in refusals() if r.levelno == logging.ERROR]
    assert len(errors) == 1  # ... but says so once per series of attempts
    assert "user gw-locked" in errors[0].getMessage()
    assert "Not authorized" in errors[0].getMessage()
    assert wrong not in caplog.text
    assert current_status(secure_broker.port, gw, **INGEST) is None  # never had a status


def test_broker_refuses_topics_outside_the_gateways_own(
    secure_broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Credentials of gw-auth, but publishing as gateway gw-other: outside its ACL subtree.
    # (Mosquitto 2.0.11 with max_queued_messages 0, as in tests/services.py, also drops the
    # connection after a refused QoS 1 publish; the gateway just reconnects.)
    gw = "gw-other"
    pw = password_file(tmp_path, PASSWORDS["gw-auth"])
    config = make_config(
        tmp_path,
        gw,
        secure_broker.url,
        [emit_device("c1", 10, chunk=10)],
        mqtt={"username": "gw-auth", "password_file": str(pw)},
    )
    with Subscriber(secure_broker.port, [f"jagajalan/v1/{gw}/#"], **INGEST) as sub:
        with running(config) as service:
            assert wait_until(lambda: "broker refused batch seq" in caplog.text)
            assert service.spool.depth() == 10  # refused batches stay in the spool
            assert service.publisher.published_batches == 0
        assert sub.messages == []
    assert "Not authorized" in caplog.text
    assert "broker refused the status on jagajalan/v1/gw-other/status" in caplog.text


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


def test_mqtts_with_the_brokers_ca_delivers_and_a_foreign_ca_does_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tls = make_tls_files(tmp_path / "tls")
    foreign = make_tls_files(tmp_path / "foreign")
    extra = f"cafile {tls['ca.pem']}\ncertfile {tls['server.pem']}\nkeyfile {tls['server.key']}\n"
    with mosquitto(tmp_path / "broker", extra=extra) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        good = make_config(
            tmp_path,
            "gw-tls",
            url,
            [emit_device("c1", 20, chunk=5)],
            mqtt={"ca_file": str(tls["ca.pem"])},
        )
        with running(good) as service:
            emitted = service.drivers[0].emitted  # type: ignore[attr-defined]
            assert wait_until(lambda: len(emitted) == 20 and service.spool.depth() == 0)
            assert service.publisher.published_batches >= 1  # acked by PUBACKs over TLS
        bad = make_config(
            tmp_path,
            "gw-tls-bad",
            url,
            [emit_device("c1", 5)],
            mqtt={"ca_file": str(foreign["ca.pem"])},
        )
        with running(bad) as service:
            assert wait_until(lambda: "TLS handshake failed" in caplog.text)
            assert not service.publisher.connected
            assert service.spool.depth() == 5


def _gateway_process(config: Path, log: Path) -> subprocess.Popen:
    out = log.open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.gateway_helpers_cli",
            "gateway",
            "run",
            "--config",
            str(config),
        ],
        cwd=REPO,
        stdout=out,
        stderr=out,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_last_will_marks_a_killed_gateway_offline(broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-killed"
    config = write_config(tmp_path, gw, broker.url, [emit_device("c1", 5)])
    proc = _gateway_process(config, tmp_path / "gateway.log")
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
        proc = _gateway_process(config, log)
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
