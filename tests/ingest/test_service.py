"""The ingest worker against a real Mosquitto and a real InfluxDB.

Most tests run the real command (``python -m jagajalan.cli ingest run``) as a subprocess and
read its /metrics endpoint; the split of a rejected batch runs the service in-process.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest

from ingest import pipeline
from ingest.metrics import IngestMetrics
from ingest.service import IngestService, IngestSettings, MqttSettings
from store.influx import InfluxStore
from telemetry import topics
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import Point, batch_meta_point, batch_to_points, to_line
from testkit.influx_setup import setup_database
from testkit.ingest import (
    MIN,
    RECENT,
    T0,
    Publisher,
    batch,
    batch_bytes,
    ingest_args,
    metric,
    not_started_influx,
    raw_batch,
    scrape,
    start_ingest,
    status_bytes,
    stop_process,
    wait_for,
    wait_subscribed,
)
from testkit.services import Influx, Mosquitto, free_port

pytestmark = pytest.mark.services


# -- the pure step ---------------------------------------------------------------------------


def test_pipeline_maps_checks_and_refuses() -> None:
    b = batch("gw-a", 1)
    ok = pipeline.process(topics.readings("gw-a"), batch_bytes("gw-a", 1), 0)
    points = [*batch_to_points(b), batch_meta_point(b)]
    assert ok == pipeline.Accepted("readings", "gw-a", points, 3, T0)
    encoded = pipeline.process(topics.readings("gw-a"), batch_bytes("gw-a", 1), 0, LineEncoder())
    assert encoded == pipeline.Accepted("readings", "gw-a", [to_line(p) for p in points], 3, T0)
    will = pipeline.process(topics.status("gw-a"), status_bytes("gw-a", "offline"), T0 + 42)
    assert will == pipeline.Accepted(
        "status",
        "gw-a",
        [Point("gateway_status", {"gateway": "gw-a"}, {"state": "offline"}, T0 + 42)],
        0,
        T0 + 42,
    )
    timed = pipeline.process(topics.status("gw-a"), status_bytes("gw-a", "online", T0), T0 + 42)
    assert isinstance(timed, pipeline.Accepted) and timed.points[0].time_ms == T0
    cases = {
        (topics.readings("gw-a"), b"{nope"): "not_json",
        (topics.readings("gw-a"), raw_batch(v=99)): "unsupported_version",
        (topics.readings("gw-a"), batch_bytes("gw-b", 1)): "gateway_mismatch",
        (topics.status("gw-a"), status_bytes("gw-b", "online")): "gateway_mismatch",
        (topics.command("gw-a"), batch_bytes("gw-a", 1)): "bad_topic",
        ("other/topic", batch_bytes("gw-a", 1)): "bad_topic",
    }
    for (topic, payload), reason in cases.items():
        result = pipeline.process(topic, payload, 0)
        assert isinstance(result, pipeline.Rejected) and result.reason == reason, (topic, result)
    assert pipeline.preview(b"x" * 500).endswith("... (500 bytes)")


# -- the real command ------------------------------------------------------------------------


@pytest.mark.parametrize("paho", ["--paho-speedup", "--no-paho-speedup"])
def test_ingest_process_writes_batches_and_refuses_bad_payloads(
    tmp_path: Path, broker: Mosquitto, influx: Influx, influx_db: str, paho: str
) -> None:
    """Also with paho as shipped (--no-paho-speedup, what make bench compares against)."""
    port, log = free_port(), tmp_path / "ingest.log"
    setup_database(influx.url, influx_db)
    proc = start_ingest(*ingest_args(broker, influx.url, influx_db, port, paho), log=log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        pub.send(topics.status("gw-a"), status_bytes("gw-a", "online", RECENT - 1000))
        sent = [batch("gw-a", seq, RECENT + seq * MIN) for seq in range(4)]
        for b in sent[:3]:
            pub.send(topics.readings("gw-a"), batch_bytes("gw-a", b.seq, b.readings[0].time))
        pub.send(topics.readings("gw-a"), b"this is { not json")
        pub.send(topics.readings("gw-a"), raw_batch(v=99, gateway="gw-a"))
        pub.send(topics.readings("gw-a"), batch_bytes("gw-b", 9))  # gw-b's data on gw-a's topic
        pub.send(
            topics.readings("gw-a"), batch_bytes("gw-a", 3, RECENT + 3 * MIN)
        )  # next valid one
        before_will = int(time.time() * 1000)
        pub.send(topics.status("gw-a"), status_bytes("gw-a", "offline"))  # Last Will: no time

        store = InfluxStore(influx.url, influx_db)
        wait_for(lambda: store.count("gateway_batches", "gw-a") == 4, 15, "4 batches")
        wait_for(lambda: store.count("gateway_status", "gw-a") == 2, 5, "gw-a's 2 statuses")
        expected = [p for b in sent for p in batch_to_points(b)]
        stored = store.points("air_quality") + store.points("traffic")
        assert sorted(stored, key=repr) == sorted(expected, key=repr)  # counts and values equal
        assert store.count("air_quality", "gw-b") == 0
        (seen,) = [g for g in store.gateways() if g.gateway == "gw-a"]
        assert (seen.gateway, seen.last_seq, seen.last_seen_ms) == ("gw-a", 3, sent[3].sent)
        assert seen.state == "offline"
        assert before_will <= seen.state_time_ms <= int(time.time() * 1000)

        # The points are queryable a moment before the writer counts them and acknowledges.
        m = wait_for(
            lambda: (
                (s := scrape(port)) and metric(s, "jagajalan_ingest_unacked_messages") == 0 and s
            ),
            10,
            "every message acknowledged",
        )
        assert metric(m, "jagajalan_ingest_malformed_total", reason="not_json") == 1
        assert metric(m, "jagajalan_ingest_malformed_total", reason="unsupported_version") == 1
        assert metric(m, "jagajalan_ingest_malformed_total", reason="gateway_mismatch") == 1
        assert metric(m, "jagajalan_ingest_messages_received_total", kind="readings") == 7
        assert metric(m, "jagajalan_ingest_messages_received_total", kind="status") == 2
        assert metric(m, "jagajalan_ingest_messages_received_total", kind="other") == 0
        readings = sum(len(b.readings) for b in sent)
        assert metric(m, "jagajalan_ingest_readings_received_total") == readings
        # points to write: the readings, a gateway_batches point per batch, the 2 statuses
        assert metric(m, "jagajalan_ingest_points_received_total") == readings + 4 + 2
        assert metric(m, "jagajalan_ingest_points_written_total") == len(expected) + 4 + 2
        assert metric(m, "jagajalan_ingest_unacked_messages") == 0
    finally:
        pub.close()
        code = stop_process(proc)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert "event=refused topic=jagajalan/v1/gw-a/readings reason=not_json" in text
    assert "event=refused topic=jagajalan/v1/gw-a/readings reason=gateway_mismatch" in text
    assert text.count("event=refused") == 3
    assert text.count("event=dead_letter reason=") == 3


def test_ingest_started_while_influxdb_is_down(
    tmp_path: Path, broker: Mosquitto, influx_db: str
) -> None:
    """Nothing is lost while InfluxDB is down; at most --max-inflight messages are held in
    memory (MQTT 5 Receive Maximum) while the broker queues the rest."""
    server, port, log = not_started_influx(tmp_path), free_port(), tmp_path / "ingest.log"
    args = ingest_args(broker, server.url, influx_db, port, "--max-inflight", "5")
    proc = start_ingest(*args, "--retry-max-delay", "0.3", "--shared-group", "t", log=log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        for seq in range(20):
            pub.send(topics.readings("gw-down"), batch_bytes("gw-down", seq, RECENT + seq * 1000))
        m = wait_for(
            lambda: (
                (s := scrape(port)) and metric(s, "jagajalan_ingest_write_retries_total") >= 3 and s
            ),
            15,
            "write retries",
        )
        assert metric(m, "jagajalan_ingest_write_errors_total", kind="unavailable") >= 3
        assert metric(m, "jagajalan_ingest_unacked_messages") == 5  # flow control holds
        assert metric(m, "jagajalan_ingest_points_written_total") == 0

        server.start()
        setup_database(server.url, influx_db)
        store = InfluxStore(server.url, influx_db)
        wait_for(lambda: store.count("gateway_batches") == 20, 20, "all 20 batches")
        assert store.count("traffic") == 40
        assert store.count("air_quality") == 20
        assert [p.fields["count"] for p in store.points("traffic")[::2]] == list(range(1, 21))
    finally:
        pub.close()
        assert stop_process(proc) == 0, log.read_text()
        server.stop()


def test_messages_not_yet_written_survive_a_killed_worker(
    tmp_path: Path, broker: Mosquitto, influx_db: str
) -> None:
    """Manual acknowledgement: a message is acked only after its points are stored, so a
    worker killed with unwritten messages leaves them to its next session."""
    server, port, log = not_started_influx(tmp_path), free_port(), tmp_path / "ingest.log"
    args = [*ingest_args(broker, server.url, influx_db, port), "--retry-max-delay", "0.3"]
    proc = start_ingest(*args, log=log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        for seq in range(10):
            pub.send(topics.readings("gw-kill"), batch_bytes("gw-kill", seq, RECENT + seq * 1000))
        wait_for(
            lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == 10,
            10,
            "10 messages buffered",
        )
        assert stop_process(proc, signal.SIGKILL) == -signal.SIGKILL
        server.start()
        setup_database(server.url, influx_db)
        proc = start_ingest(*args, log=log)  # same client id: the session resumes
        store = InfluxStore(server.url, influx_db)
        wait_for(lambda: store.count("gateway_batches") == 10, 20, "all 10 batches")
        assert store.count("air_quality") == 10
    finally:
        pub.close()
        stop_process(proc)
        server.stop()


def test_rejected_points_are_split_out_and_the_rest_written(
    broker: Mosquitto, influx: Influx, influx_db: str
) -> None:
    store = InfluxStore(influx.url, influx_db)
    store.ensure()
    # humidity already exists as an integer: the batch's float humidity conflicts with it.
    store.write(
        [Point("air_quality", {"gateway": "gw-x", "sensor": "old"}, {"humidity": 1}, RECENT)]
    )
    metrics = IngestMetrics()
    settings = IngestSettings(
        MqttSettings(url=broker.url, client_id=f"test-split-{uuid.uuid4().hex[:8]}"),
        max_delay=0.05,
    )
    service = IngestService(settings, InfluxStore(influx.url, influx_db), metrics)
    service.start()
    pub = Publisher(broker.port)
    try:
        assert service.subscribed.wait(10)
        pub.send(topics.readings("gw-x"), batch_bytes("gw-x", 5, RECENT + MIN))
        wait_for(lambda: store.count("gateway_batches") == 1, 10, "the batch's meta point")
        wait_for(lambda: service.buffer.messages == 0, 5, "the message acknowledged")
    finally:
        pub.close()
        service.stop()
    assert store.count("traffic", "gw-x") == 2  # the good points of the batch are stored
    assert store.count("air_quality", "gw-x") == 1  # only the old point: the new one refused
    assert metrics.points_rejected._value.get() == 1
    assert metrics.points_written._value.get() == 3
    assert metrics.write_errors.labels("rejected")._value.get() == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_flushes_the_buffer_before_exit(
    tmp_path: Path, broker: Mosquitto, influx: Influx, influx_db: str, sig: int
) -> None:
    port, log = free_port(), tmp_path / "ingest.log"
    # Nothing would be written for 60 s but for the shutdown flush.
    setup_database(influx.url, influx_db)
    args = ingest_args(broker, influx.url, influx_db, port, "--max-delay", "60")
    proc = start_ingest(*args, log=log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        pub.send(topics.readings("gw-sig"), batch_bytes("gw-sig", 1, RECENT))
        wait_for(
            lambda: metric(scrape(port), "jagajalan_ingest_unacked_messages") == 1, 5, "buffered"
        )
        store = InfluxStore(influx.url, influx_db)
        assert store.count("gateway_batches") == 0
        started = time.monotonic()
        assert stop_process(proc, sig) == 0, log.read_text()
        assert time.monotonic() - started < 5
        assert store.count("gateway_batches") == 1
        assert store.count("traffic", "gw-sig") == 2
    finally:
        pub.close()
        stop_process(proc)
    assert f"{signal.Signals(sig).name} received" in log.read_text()
