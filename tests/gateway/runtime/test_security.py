"""Gateway security against real Mosquitto brokers: per-gateway passwords and the ACL, TLS with
a CA file, mutual TLS with a client certificate as the identity, and secrets kept out of logs.

The devices are ``test_emit`` drivers (testkit/gateway.py), registered for each test.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.gateway import (
    Subscriber,
    current_status,
    emit_device,
    expected_readings,
    login,
    make_client_cert,
    make_config,
    make_tls_files,
    received_readings,
    register_emit_driver,
    running,
    wait_until,
    write_config,
)
from testkit.procs import start_gateway, stop
from testkit.services import Mosquitto, free_port, mosquitto

pytestmark = pytest.mark.services

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


def test_right_password_publishes_under_acl(secure_broker: Mosquitto, tmp_path: Path) -> None:
    gw = "gw-auth"
    config = make_config(
        tmp_path,
        gw,
        secure_broker.url,
        [emit_device("c1", 25, chunk=5)],
        mqtt=login(tmp_path, gw, PASSWORDS[gw]),
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
    config = make_config(
        tmp_path, gw, secure_broker.url, [emit_device("c1", 10)], mqtt=login(tmp_path, gw, wrong)
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
    # (Mosquitto 2.0.11 with max_queued_messages 0, as in testkit/services.py, also drops the
    # connection after a refused QoS 1 publish; the gateway just reconnects.)
    gw = "gw-other"
    config = make_config(
        tmp_path,
        gw,
        secure_broker.url,
        [emit_device("c1", 10, chunk=10)],
        mqtt=login(tmp_path, "gw-auth", PASSWORDS["gw-auth"]),
    )
    with Subscriber(secure_broker.port, [f"jagajalan/v1/{gw}/#"], **INGEST) as sub:
        with running(config) as service:
            assert wait_until(lambda: "broker refused batch seq" in caplog.text)
            assert service.spool.depth() == 10  # refused batches stay in the spool
            assert service.publisher.published_batches == 0
        assert sub.messages == []
    assert "Not authorized" in caplog.text
    assert "broker refused the status on jagajalan/v1/gw-other/status" in caplog.text


def test_mqtts_with_the_brokers_ca_delivers_and_a_foreign_ca_does_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tls = make_tls_files(tmp_path / "tls")
    foreign = make_tls_files(tmp_path / "foreign")
    plain = free_port()  # the test's subscriber, as ingest on the broker's own host
    extra = (
        f"cafile {tls['ca.pem']}\ncertfile {tls['server.pem']}\nkeyfile {tls['server.key']}\n"
        f"listener {plain} 127.0.0.1\n"
    )
    with mosquitto(tmp_path / "broker", extra=extra) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        good = make_config(
            tmp_path,
            "gw-tls",
            url,
            [emit_device("c1", 20, chunk=5)],
            mqtt={"ca_file": str(tls["ca.pem"])},
        )
        with Subscriber(plain, ["jagajalan/v1/gw-tls/readings"]) as sub, running(good) as service:
            emitted = service.drivers[0].emitted  # type: ignore[attr-defined]
            assert wait_until(lambda: len(emitted) == 20 and service.spool.depth() == 0)
            assert service.publisher.published_batches >= 1  # acked by PUBACKs over TLS
            assert sub.wait_for(lambda: len(received_readings(sub, "gw-tls")) == 20)
        assert sorted(received_readings(sub, "gw-tls")) == expected_readings("c1", 20)
        bad = make_config(
            tmp_path,
            "gw-tls-bad",
            url,
            [emit_device("c1", 5)],
            mqtt={"ca_file": str(foreign["ca.pem"])},
        )
        with running(bad) as service:
            assert wait_until(lambda: "TLS handshake failed" in caplog.text)
            assert wait_until(lambda: len(service.drivers[0].emitted) == 5)  # type: ignore[attr-defined]
            assert not service.publisher.connected
            assert service.spool.depth() == 5


def test_mutual_tls_client_certificate_is_the_identity(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mosquitto requires a client certificate on its TLS listener and takes the
    certificate's CN as the username, so the gateway ACL (pattern %u) applies to it."""
    tls = make_tls_files(tmp_path / "tls")
    cert, key = make_client_cert(tls, "gw-mtls")
    other_cert, other_key = make_client_cert(tls, "gw-someone-else")
    tls_port = free_port()
    acl = (
        "topic read jagajalan/v1/#\n"  # anonymous: the test subscriber on the plain listener
        "pattern write jagajalan/v1/%u/readings\npattern write jagajalan/v1/%u/status\n"
    )
    extra = (
        f"listener {tls_port} 127.0.0.1\ncafile {tls['ca.pem']}\ncertfile {tls['server.pem']}\n"
        f"keyfile {tls['server.key']}\nrequire_certificate true\nuse_identity_as_username true\n"
    )
    url = f"mqtts://127.0.0.1:{tls_port}"
    with mosquitto(tmp_path / "broker", acl=acl, extra=extra) as broker:
        gw = "gw-mtls"
        good = make_config(
            tmp_path,
            gw,
            url,
            [emit_device("c1", 20, chunk=5)],
            mqtt={"ca_file": tls["ca.pem"], "certfile": cert, "keyfile": key},
        )
        with Subscriber(broker.port, [f"jagajalan/v1/{gw}/#"]) as sub:
            with running(good) as service:
                assert sub.wait_for(lambda: len(received_readings(sub, gw)) >= 20)
                assert wait_until(lambda: service.spool.depth() == 0)
            assert sorted(received_readings(sub, gw)) == expected_readings("c1", 20)
            assert sub.on(f"jagajalan/v1/{gw}/status")[0].json()["state"] == "online"
        no_cert = make_config(
            tmp_path, "gw-mtls-nocert", url, [emit_device("c1", 3)], mqtt={"ca_file": tls["ca.pem"]}
        )
        with running(no_cert) as service:
            assert wait_until(lambda: len(service.drivers[0].emitted) == 3)  # type: ignore[attr-defined]
            time.sleep(1.5)  # several connection attempts
            assert not service.publisher.connected and service.spool.depth() == 3
        wrong = make_config(
            tmp_path,
            "gw-mtls-wrong",
            url,
            [emit_device("c1", 3, chunk=3)],
            mqtt={"ca_file": tls["ca.pem"], "certfile": other_cert, "keyfile": other_key},
        )
        with running(wrong) as service:  # connects as gw-someone-else: not its topics
            refused = "broker refused the status on jagajalan/v1/gw-mtls-wrong/status"
            assert wait_until(lambda: refused in caplog.text)  # TLS worked; the ACL said no
            assert "does the ACL let the client certificate's identity publish" in caplog.text
            assert service.spool.depth() == 3 and service.publisher.published_batches == 0


def test_the_password_appears_in_no_log_line(secure_broker: Mosquitto, tmp_path: Path) -> None:
    """The real command at DEBUG, with a password file, a right and then a wrong password."""
    for gw, secret in (("gw-auth", PASSWORDS["gw-auth"]), ("gw-locked", "wrong-pw-93417")):
        (tmp_path / gw).mkdir()
        config = write_config(
            tmp_path,
            gw,
            secure_broker.url,
            [emit_device("c1", 5)],
            mqtt=login(tmp_path / gw, gw, secret),
        )
        log = tmp_path / f"{gw}.log"
        proc = start_gateway(config, log, log_level="DEBUG")
        try:
            expect = "connected to" if gw == "gw-auth" else "refused the connection"
            assert wait_until(lambda log=log, e=expect: e in log.read_text(), timeout=20), (
                log.read_text()
            )
            time.sleep(1.0)
        finally:
            assert stop(proc) == 0
        text = log.read_text()
        assert "DEBUG" in text and f"as {gw}" in text  # it did log, at DEBUG, naming the user
        assert secret not in text
        status = current_status(secure_broker.port, gw, **INGEST)
        assert status is None or secret not in json.dumps(status)
