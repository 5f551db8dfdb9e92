"""A worker whose writes fail, or whose broker connection breaks mid-write, with real Mosquitto,
real InfluxDB 1.6 and the real ``ingest run`` command.

(a) A point InfluxDB refuses for a reason that is not transient and that splitting cannot fix
(a line over influxd's ``max-body-size``: HTTP 413 on its own) is dead-lettered as
``store_refused`` after ``--max-attempts`` attempts, and the messages behind it are stored and
acknowledged. (b) A configuration problem (the database missing and not creatable, then no
write privilege) dead-letters nothing and acknowledges nothing, says so in one error line and
a gauge, and everything is stored once it is fixed, also with a least-privilege user that may
write but not create the database. (c) A connection that breaks between a message's receipt
and the end of its write: no acknowledgement goes out on the new connection for a message of
the old one (observed packet by packet by a TCP relay between worker and broker), and every
reading is stored exactly once. The outage of a store that is merely down (transient) is
test a of tests/ingest/test_acceptance.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from store.influx import InfluxStore
from telemetry import encode_batch, topics
from telemetry.models import Batch, Reading
from testkit.influx_setup import setup_database
from testkit.ingest import (
    RECENT,
    Publisher,
    metric,
    scrape,
    start_ingest,
    stop_process,
    wait_for,
    wait_subscribed,
)
from testkit.ingest_acceptance import DeadLetters, stored, stream_payload
from testkit.mqtt_relay import Relay
from testkit.procs import frozen
from testkit.services import Mosquitto, free_port, influxd

pytestmark = pytest.mark.services


def args_for(broker_url: str, influx_url: str, db: str, port: int, *extra: str) -> list[str]:
    return [
        *("--broker-url", broker_url, "--influx-url", influx_url, "--influx-db", db),
        *("--client-id", f"failures-{db}", "--metrics-port", str(port), "--mqtt-protocol", "5"),
        *extra,
    ]


def wide_batch(gateway: str, seq: int, t: int) -> bytes:
    """A batch with one ordinary reading and one of 64 fields with 61-character names: its
    line protocol (about 4.5 kB) is larger than the test's influxd takes in one request."""
    wide = {f"f{i:02d}_" + "x" * 57: float(i) for i in range(64)}
    readings = [
        Reading(sensor="env1", measurement="air_quality", time=t, fields={"pm25": 1.5}),
        Reading(sensor="wide", measurement="air_quality", time=t, fields=wide),
    ]
    return encode_batch(Batch(gateway=gateway, seq=seq, sent=t + 500, readings=readings))


def stored_as_admin(url: str, db: str) -> tuple[int, int]:
    store = InfluxStore(url, db, username="admin", password="admin-pw")
    try:
        return store.count("air_quality"), store.count("gateway_batches")
    finally:
        store.close()


def test_a_point_refused_for_good_is_dead_lettered_after_the_attempts_and_the_rest_goes_on(
    tmp_path: Path, broker: Mosquitto
) -> None:
    port, log = free_port(), tmp_path / "ingest.log"
    letters = DeadLetters(broker.port)
    pub = Publisher(broker.port)
    with influxd(tmp_path / "influx", max_body_size=2048) as server:
        setup_database(server.url, "refused")
        args = args_for(broker.url, server.url, "refused", port, "--max-attempts", "3")
        proc = start_ingest(*args, "--retry-max-delay", "0.2", "--max-delay", "0.1", log=log)
        try:
            wait_subscribed(proc, port, log)
            # Batches of several messages are over 2048 bytes too: those are split and stored.
            for seq in range(3):
                pub.send(topics.readings("gw-ok"), stream_payload("gw-ok", seq, 3))
            pub.send(topics.readings("gw-big"), wide_batch("gw-big", 1, RECENT))
            for seq in range(3, 8):
                pub.send(topics.readings("gw-ok"), stream_payload("gw-ok", seq, 3))
            everything = (8 * 3 + 1, 9)
            wait_for(lambda: stored(server.url, "refused") == everything, 30, "every good point")
            wait_for(lambda: letters.received, 20, "the dead letter")
            m = wait_for(
                lambda: (
                    (s := scrape(port))
                    and metric(s, "jagajalan_ingest_unacked_messages") == 0
                    and s
                ),
                10,
                "every message acknowledged",
            )
            assert proc.poll() is None
            assert metric(m, "jagajalan_ingest_messages_acked_total") == 9
            assert metric(m, "jagajalan_ingest_refused_attempts_total") == 3
            assert metric(m, "jagajalan_ingest_dead_lettered_after_retries_total") == 1
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="store_refused") == 1
            assert metric(m, "jagajalan_ingest_store_misconfigured") == 0
            [(topic, letter)] = letters.received
            assert topic == "jagajalan/v1/deadletter/store_refused"
            assert letter["reason"] == "store_refused" and letter["attempts"] == 3
            assert letter["topic"] == "jagajalan/v1/gw-big/readings"
            assert letter["gateway"] == "gw-big"
            assert "HTTP 413" in letter["error"] and "Request Entity Too Large" in letter["error"]
            [line] = letter["points"]
            assert line.startswith("air_quality,gateway=gw-big,sensor=wide f00_")
            assert len(line) > 2048 and line.endswith(f" {RECENT}")
            store = InfluxStore(server.url, "refused")
            assert store.count("air_quality", "gw-big") == 1  # its ordinary reading is stored
        finally:
            pub.close()
            letters.close()
            assert stop_process(proc) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("event=write_refused_for_good") == 1


def test_a_configuration_problem_holds_everything_loudly_until_it_is_fixed(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """InfluxDB with authentication. The worker's user may first do nothing (the database does
    not exist and it may not create it), then the database exists but the user may not write,
    then it may write (WRITE only, as least privilege asks: it still may not create the
    database or its retention policies)."""
    port, log = free_port(), tmp_path / "ingest.log"
    letters = DeadLetters(broker.port)
    pub = Publisher(broker.port)
    (tmp_path / "pw").write_text("ingest-pw")
    with influxd(tmp_path / "influx", auth=True) as server:

        def admin(q: str) -> None:
            r = httpx.post(f"{server.url}/query", params={"q": q}, auth=("admin", "admin-pw"))
            assert r.status_code == 200 and "error" not in r.text, r.text

        admin("CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES")
        admin("CREATE USER ingest WITH PASSWORD 'ingest-pw'")
        args = args_for(broker.url, server.url, "held", port, "--influx-username", "ingest")
        extra = ["--influx-password-file", str(tmp_path / "pw"), "--retry-max-delay", "0.2"]
        proc = start_ingest(*args, *extra, log=log)

        def held(kind: str, lines: int) -> dict:
            """Waits for many failed attempts of *kind*; checks nothing went anywhere."""
            before = metric(scrape(port), "jagajalan_ingest_write_errors_total", kind=kind)
            m = wait_for(
                lambda: (
                    (s := scrape(port))
                    and metric(s, "jagajalan_ingest_write_errors_total", kind=kind) >= before + 10
                    and s
                ),
                30,
                f"ten more failed attempts of kind {kind}",
            )
            assert metric(m, "jagajalan_ingest_store_misconfigured") == 1
            assert metric(m, "jagajalan_ingest_unacked_messages") == 4
            assert metric(m, "jagajalan_ingest_messages_acked_total") == 0
            assert metric(m, "jagajalan_ingest_refused_attempts_total") == 0
            assert letters.received == []
            # One error line per problem (and then one a minute), not one per attempt.
            assert log.read_text().count("event=store_misconfigured") == lines
            return m

        try:
            wait_subscribed(proc, port, log)
            for seq in range(4):
                pub.send(topics.readings("gw-cfg"), stream_payload("gw-cfg", seq, 2))
            held("configuration", 1)
            assert "database 'held' does not exist" in log.read_text()
            admin('CREATE DATABASE "held"')
            held("auth", 2)
            assert (
                "may not write to database 'held'" in log.read_text().split("event=store_mis")[-1]
            )
            admin('GRANT WRITE ON "held" TO "ingest"')
            wait_for(lambda: stored_as_admin(server.url, "held") == (8, 4), 30, "all stored")
            wait_for(
                lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == 0,
                10,
                "every message acknowledged",
            )
            m = scrape(port)
            assert metric(m, "jagajalan_ingest_store_misconfigured") == 0
            assert letters.received == []
        finally:
            pub.close()
            letters.close()
            assert stop_process(proc) == 0, log.read_text()
    text = log.read_text()
    assert "ingest-pw" not in text and "admin-pw" not in text
    assert "event=store_configuration_fixed" in text


def test_no_ack_goes_out_on_a_newer_connection_for_a_message_of_an_older_one(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """InfluxDB is frozen (SIGSTOP) while the worker holds messages; the relay drops the
    worker's broker connection and holds back the broker's side of the next one (CONNACK and
    the redelivered messages); then InfluxDB thaws and the writes of the old connection's
    messages complete while the worker is on the new connection, not yet told it is
    connected. Their acknowledgements would carry packet ids of the old connection: they must
    not go out. Once released, the broker redelivers; each reading is stored exactly once."""
    port, log = free_port(), tmp_path / "ingest.log"
    relay = Relay(broker.port)
    pub = Publisher(broker.port)
    per, count = 5, 12
    with influxd(tmp_path / "influx") as server:
        setup_database(server.url, "stale")
        args = args_for(relay.url, server.url, "stale", port, "--influx-timeout", "300")
        proc = start_ingest(*args, "--max-delay", "0.02", log=log)
        try:
            wait_subscribed(proc, port, log)
            pub.send(topics.readings("gw-s"), stream_payload("gw-s", 0, per))
            wait_for(lambda: relay.of(1, "puback"), 20, "the first message acknowledged")
            with frozen(server.proc):
                for seq in range(1, count + 1):
                    pub.send(topics.readings("gw-s"), stream_payload("gw-s", seq, per))
                wait_for(
                    lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == count,
                    20,
                    "the worker holding every message, its writes stuck",
                )
                relay.hold_new = True
                relay.drop()
                wait_for(lambda: relay.connections == 2, 30, "the worker to reconnect")
            # InfluxDB runs again: the stuck writes complete while the CONNACK is held back.
            wait_for(
                lambda: (
                    relay.of(2, "puback")
                    or metric(scrape(port), "jagajalan_ingest_stale_acks_dropped_total") >= 1
                ),
                30,
                "the old connection's writes to complete",
            )
            early = relay.of(2, "puback")
            relay.release()
            wait_for(
                lambda: stored(server.url, "stale") == ((count + 1) * per, count + 1),
                30,
                "every reading stored",
            )
            wait_for(
                lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == 0,
                20,
                "every redelivered message acknowledged",
            )
            assert early == [], "acknowledged on connection 2 before it delivered anything"
            assert relay.violations() == []
            redelivered = relay.of(2, "publish")
            assert redelivered and all(e.dup for e in redelivered)
            acked = {e.mid for e in relay.of(2, "puback")}
            assert acked == {e.mid for e in redelivered}  # each answered on its own connection
            m = scrape(port)
            assert metric(m, "jagajalan_ingest_stale_acks_dropped_total") >= 1
            assert stored(server.url, "stale") == ((count + 1) * per, count + 1)
            points = InfluxStore(server.url, "stale").points("air_quality", "gw-s")
            times = [p.time_ms for p in points]
            assert times == sorted(set(times)) and len(times) == (count + 1) * per
        finally:
            pub.close()
            relay.close()
            assert stop_process(proc) == 0, log.read_text()
    assert "Traceback" not in log.read_text()
