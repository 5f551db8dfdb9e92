"""Acceptance: nothing is lost, with real Mosquitto, real InfluxDB and real ingest processes.

(a) InfluxDB stopped for 30 s under a steady stream (transient: nothing dead-lettered, nothing
acknowledged until it is back); (b) the ingest process SIGKILLed under
load; (c) three workers on a shared subscription, one killed mid-stream; (d) a field type
conflict, a point beyond the retention policy and an undecodable payload become dead letters
while every good point is written; (e) a dead letter the broker refuses keeps its original
message unacknowledged until the broker takes it. Every test ends by comparing what InfluxDB
holds with what the broker confirmed to the publisher.
"""

from __future__ import annotations

import base64
import signal
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from store.influx import InfluxStore
from telemetry import topics
from telemetry.mapping import Point
from testkit.influx_setup import setup_database
from testkit.ingest import (
    HOUR,
    MIN,
    RECENT,
    Publisher,
    batch_bytes,
    ingest_args,
    metric,
    not_started_influx,
    scrape,
    start_ingest,
    stop_process,
    wait_for,
    wait_subscribed,
)
from testkit.ingest_acceptance import DeadLetters, Stream, stored
from testkit.services import Mosquitto, free_port, influxd, mosquitto

pytestmark = pytest.mark.services


def _all_stored(url: str, db: str, stream: Stream, timeout: float = 60) -> None:
    want = (stream.sent_readings, stream.sent_messages)
    wait_for(lambda: stored(url, db) == want, timeout, f"InfluxDB to hold {want}", step=0.5)


def test_a_influxdb_down_for_30s_under_a_steady_stream(tmp_path: Path, broker: Mosquitto) -> None:
    """A store that is down is transient: retried without limit (many more attempts than
    --max-attempts), nothing dead-lettered, nothing acknowledged until it is back."""
    server, port, log = not_started_influx(tmp_path), free_port(), tmp_path / "ingest.log"
    server.start()
    setup_database(server.url, "acc_a")
    letters = DeadLetters(broker.port)
    args = ingest_args(broker, server.url, "acc_a", port, "--max-inflight", "200")
    proc = start_ingest(*args, "--retry-max-delay", "1", "--max-attempts", "2", log=log)
    stream = None
    try:
        wait_subscribed(proc, port, log)
        stream = Stream(broker.port, rate=20).start()
        wait_for(lambda: stored(server.url, "acc_a")[1] >= 20, 30, "the first writes")
        server.stop()
        outage_end = time.monotonic() + 30
        most_unacked = 0.0
        acked_in_outage: list[float] = []  # once every writer thread is failing
        while time.monotonic() < outage_end:
            assert proc.poll() is None, log.read_text()
            m = scrape(port)
            most_unacked = max(most_unacked, metric(m, "jagajalan_ingest_unacked_messages"))
            if metric(m, "jagajalan_ingest_write_errors_total", kind="unavailable") >= 3:
                acked_in_outage.append(metric(m, "jagajalan_ingest_messages_acked_total"))
            time.sleep(0.5)
        m = scrape(port)
        assert metric(m, "jagajalan_ingest_write_errors_total", kind="unavailable") >= 3
        assert 150 <= most_unacked <= 200  # held back at the receive window: memory bounded
        assert len(acked_in_outage) >= 20 and len(set(acked_in_outage)) == 1  # no ack at all
        assert letters.received == []
        assert metric(m, "jagajalan_ingest_refused_attempts_total") == 0
        assert metric(m, "jagajalan_ingest_store_misconfigured") == 0
        server.start()
        time.sleep(3)
        stream.stop()
        assert stream.sent_messages >= 600  # 20 msg/s for more than 30 s
        _all_stored(server.url, "acc_a", stream)
        assert metric(scrape(port), "jagajalan_ingest_unacked_messages") == 0
        assert letters.received == []
    finally:
        if stream is not None:
            stream.stop()
        letters.close()
        assert stop_process(proc) == 0, log.read_text()
        server.stop()
    assert "Traceback" not in log.read_text()


def test_b_ingest_sigkilled_under_load_and_restarted(tmp_path: Path, broker: Mosquitto) -> None:
    port, log = free_port(), tmp_path / "ingest.log"
    with influxd(tmp_path / "influx") as server:
        setup_database(server.url, "acc_b")
        # Batches wait up to 1 s, so the kill always catches unacknowledged messages.
        args = [*ingest_args(broker, server.url, "acc_b", port), "--max-delay", "1"]
        proc = start_ingest(*args, log=log)
        stream = None
        try:
            wait_subscribed(proc, port, log)
            stream = Stream(broker.port, rate=50).start()
            wait_for(lambda: stored(server.url, "acc_b")[1] >= 50, 30, "the first writes")
            wait_for(
                lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") >= 10,
                10,
                "unacknowledged messages at the moment of the kill",
            )
            assert stop_process(proc, signal.SIGKILL) == -signal.SIGKILL
            time.sleep(3)  # the stream goes on: the broker queues for the session
            proc = start_ingest(*args, log=log)  # same client id: the session resumes
            wait_subscribed(proc, port, log)
            time.sleep(3)
            stream.stop()
            _all_stored(server.url, "acc_b", stream)
        finally:
            if stream is not None:
                stream.stop()
            stop_process(proc)


def test_c_three_shared_workers_one_killed_mid_stream(tmp_path: Path, broker: Mosquitto) -> None:
    """Mosquitto 2.0.11 does not hand a dead member's messages to the others: its unacked
    messages, and its share of new ones, wait in its persistent session. The real guarantee
    is therefore: nothing is lost, and the dead worker's share lands once a worker with the
    same client id is back (a supervisor restarts it, or ``--leave`` retires it)."""
    with influxd(tmp_path / "influx") as server:
        setup_database(server.url, "acc_c")
        ports = [free_port() for _ in range(3)]
        args = [
            ingest_args(broker, server.url, "acc_c", p, "--shared-group", "ingest") for p in ports
        ]
        for i, a in enumerate(args):
            a[a.index("--client-id") + 1] = f"acc-c-worker-{i}"
            a += ["--max-delay", "0.5"]
        logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
        procs = [start_ingest(*a, log=log) for a, log in zip(args, logs, strict=True)]
        stream = None
        try:
            for proc, port, log in zip(procs, ports, logs, strict=True):
                wait_subscribed(proc, port, log)
            stream = Stream(broker.port, rate=60).start()
            wait_for(lambda: stored(server.url, "acc_c")[1] >= 60, 30, "the first writes")
            shares = [metric(scrape(p), "jagajalan_ingest_messages_acked_total") for p in ports]
            assert all(s > 0 for s in shares), shares  # all three take part
            assert stop_process(procs[1], signal.SIGKILL) == -signal.SIGKILL
            time.sleep(5)
            stream.stop()
            survivors = [ports[0], ports[2]]
            wait_for(
                lambda: all(
                    metric(scrape(p), "jagajalan_ingest_unacked_messages") == 0 for p in survivors
                ),
                30,
                "the survivors to finish",
            )
            time.sleep(1)
            _, batches = stored(server.url, "acc_c")
            assert batches < stream.sent_messages  # the dead worker's share is held for it
            # Retire it instead of restarting it: its session is drained and then ended.
            leave = [*args[1], "--leave", "2"]
            procs[1] = start_ingest(*leave, log=logs[1])
            assert procs[1].wait(60) == 0, logs[1].read_text()
            _all_stored(server.url, "acc_c", stream)
            # Gone for good: what is published now goes to the two others only.
            before = stored(server.url, "acc_c")[1]
            more = Stream(broker.port, rate=60, gateways=("acc-5", "acc-6")).start()
            time.sleep(2)
            more.stop()
            want = before + more.sent_messages
            wait_for(lambda: stored(server.url, "acc_c")[1] == want, 30, "the new batches")
        finally:
            if stream is not None:
                stream.stop()
            for proc in procs:
                stop_process(proc)


def test_d_refused_points_and_payloads_become_dead_letters(
    tmp_path: Path, broker: Mosquitto
) -> None:
    port, log = free_port(), tmp_path / "ingest.log"
    letters = DeadLetters(broker.port)
    pub = Publisher(broker.port)
    with influxd(tmp_path / "influx") as server:
        setup_database(server.url, "acc_d")  # the raw policy keeps 90 days (beyond_retention)
        proc = start_ingest(*ingest_args(broker, server.url, "acc_d", port), log=log)
        try:
            wait_subscribed(proc, port, log)
            earlier = RECENT - 48 * HOUR  # another shard (the raw policy's are 1 day long)
            pub.send(topics.readings("gw-x"), batch_bytes("gw-x", 1, earlier))
            store = InfluxStore(server.url, "acc_d")
            wait_for(lambda: store.count("gateway_batches") == 1, 20, "the first batch")
            # humidity is now an integer in the shard of RECENT + 1 min (raw policy)
            tags = {"gateway": "gw-y", "sensor": "old"}
            store.write([Point("air_quality", tags, {"humidity": 1}, RECENT + MIN)])
            undecodable = b"\xff\xfe this is not a payload"
            pub.send(topics.readings("gw-x"), undecodable)
            pub.send(topics.readings("gw-x"), batch_bytes("gw-x", 2, RECENT + MIN))
            ancient = RECENT - 100 * 24 * HOUR  # beyond the 90-day raw retention policy
            pub.send(topics.readings("gw-z"), batch_bytes("gw-z", 7, ancient))
            pub.send(topics.readings("gw-x"), batch_bytes("gw-x", 3, earlier + MIN))
            wait_for(lambda: store.count("gateway_batches", "gw-x") == 3, 20, "all gw-x batches")
            wait_for(lambda: len(letters.received) == 3, 20, "three dead letters")
            assert proc.poll() is None  # still running
            assert letters.reasons() == ["beyond_retention", "field_type_conflict", "not_utf8"]
            by_reason = {t.rsplit("/", 1)[-1]: body for t, body in letters.received}
            conflict = by_reason["field_type_conflict"]
            assert conflict["topic"] == "jagajalan/v1/gw-x/readings"
            assert conflict["gateway"] == "gw-x"
            assert "field type conflict" in conflict["error"]
            assert conflict["points"] == [
                f"air_quality,gateway=gw-x,sensor=env1 pm25=12.0,pm10=20.5,humidity=80.0 "
                f"{RECENT + MIN}"
            ]
            bad = by_reason["not_utf8"]
            assert base64.b64decode(bad["payload_b64"]) == undecodable
            assert bad["gateway"] == "gw-x" and "UTF-8" in bad["error"]
            beyond = by_reason["beyond_retention"]
            assert beyond["gateway"] == "gw-z" and len(beyond["points"]) == 4  # all of it
            # every good point is written: all traffic points, the batches' own points
            assert store.count("traffic", "gw-x") == 6
            assert store.count("air_quality", "gw-x") == 2  # seq 1 and 3; seq 2's was refused
            m = wait_for(
                lambda: (
                    (s := scrape(port))
                    and metric(s, "jagajalan_ingest_unacked_messages") == 0
                    and s
                ),
                10,
                "every message acknowledged",
            )
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="not_utf8") == 1
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="beyond_retention") == 1
            assert metric(m, "jagajalan_ingest_points_rejected_total") == 5
        finally:
            pub.close()
            letters.close()
            assert stop_process(proc) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_e_a_refused_dead_letter_keeps_the_message_unacknowledged(tmp_path: Path) -> None:
    """The broker's ACL refuses ingest's dead letters at first (PUBACK "not authorized"):
    the undecodable message stays unacknowledged and the publish is retried; once the ACL
    allows it (Mosquitto reloads it on SIGHUP), the dead letter goes out and the message is
    acknowledged."""
    port, log = free_port(), tmp_path / "ingest.log"
    users = {"ingest": "ingest-pw", "gw-x": "gw-pw"}
    deny = "user ingest\ntopic read jagajalan/v1/#\nuser gw-x\ntopic write jagajalan/v1/gw-x/#\n"
    allow = deny.replace("topic read jagajalan/v1/#", "topic readwrite jagajalan/v1/#")
    with (
        mosquitto(tmp_path / "mq", passwords=users, acl=deny) as b,
        influxd(tmp_path / "influx") as server,
    ):
        setup_database(server.url, "acc_e")
        (tmp_path / "pw").write_text("ingest-pw")
        args = ingest_args(b, server.url, "acc_e", port, "--mqtt-username", "ingest")
        proc = start_ingest(
            *args,
            "--mqtt-password-file",
            str(tmp_path / "pw"),
            "--retry-max-delay",
            "0.5",
            log=log,
        )
        gw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        gw.username_pw_set("gw-x", "gw-pw")
        gw.connect("127.0.0.1", b.port)
        gw.loop_start()
        try:
            wait_subscribed(proc, port, log)
            gw.publish(topics.readings("gw-x"), b"{broken", qos=1).wait_for_publish(5)
            wait_for(
                lambda: (
                    metric(scrape(port), "jagajalan_ingest_write_errors_total", kind="dead_letter")
                    >= 2
                ),
                20,
                "refused dead-letter publishes",
            )
            m = scrape(port)
            # Mosquitto drops the connection after a refused publish; the session resumes and
            # redelivers the message, which is dead-lettered (once) when the broker takes it.
            assert metric(m, "jagajalan_ingest_unacked_messages") >= 1
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="not_json") == 0
            (tmp_path / "mq" / "acl").write_text(allow)
            b.proc.send_signal(signal.SIGHUP)
            wait_for(
                lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == 0,
                20,
                "the message acknowledged after its dead letter went out",
            )
            m = scrape(port)
            assert metric(m, "jagajalan_ingest_dead_letters_total", reason="not_json") == 1
        finally:
            gw.disconnect()
            gw.loop_stop()
            assert stop_process(proc) == 0, log.read_text()
    assert "the broker refused a dead letter" in log.read_text()
