"""The whole chain, real at every seam.

Emulated serial devices on pseudo-terminals (a pymodbus RTU server and a traffic counter
streaming per-vehicle records) -> two real gateway processes reading them with pyserial ->
a real Mosquitto -> a real ingest process -> a real InfluxDB. A test subscriber records every
batch the gateways published; the test then asserts that InfluxDB holds exactly those
readings, and that their values are what the simulators produced (ground truth JSONL), after
the documented scaling and aggregation.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt

from simulators.truth import read_truth
from store.influx import InfluxStore
from telemetry import decode_batch, topics
from testkit import children
from testkit.services import Influx, Mosquitto
from testkit.traffic_reference import Params, expected_readings

GATEWAYS = ("srl-pasar-01", "srl-pauh-01")
TRAFFIC_INTERVAL_S = 2
RUN_TIMEOUT_S = 90


def _cli(*args: str, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    return children.start(
        [sys.executable, "-m", "jagajalan.cli", *args],
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen, timeout: float = 15) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
    return proc.returncode


class Recorder:
    """Subscribes to every readings topic and keeps every batch published."""

    def __init__(self, broker: Mosquitto) -> None:
        self.batches = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.batches.append(decode_batch(m.payload))
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(topics.ALL_READINGS, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_two_gateways_to_influxdb(
    tmp_path: Path, broker: Mosquitto, influx: Influx, influx_db: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    sim_dir, truth_path, ready = tmp_path / "sim", tmp_path / "truth.jsonl", tmp_path / "ready"
    procs: dict[str, subprocess.Popen] = {}
    recorder = Recorder(broker)
    try:
        procs["devices"] = _cli(
            "simulate",
            "devices",
            "--dir",
            str(sim_dir),
            "--gateways",
            ",".join(GATEWAYS),
            "--seed",
            "7",
            "--broker-url",
            broker.url,
            "--traffic-interval",
            str(TRAFFIC_INTERVAL_S),
            "--poll-interval",
            "0.5",
            "--vehicles-per-minute",
            "90",
            "--truth",
            str(truth_path),
            "--ready-file",
            str(ready),
            log=logs / "devices.log",
        )
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert procs["devices"].poll() is None, (logs / "devices.log").read_text()
            assert time.monotonic() < deadline, "emulated devices did not start"
            time.sleep(0.1)
        # Set up as an operator does, once, before the services run.
        setup = ["--influx-url", influx.url, "--influx-db", influx_db]
        assert _cli("store", "setup", *setup, log=logs / "setup.log").wait(60) == 0, (
            logs / "setup.log"
        ).read_text()
        procs["ingest"] = _cli(
            "ingest",
            "run",
            "--broker-url",
            broker.url,
            "--influx-url",
            influx.url,
            "--influx-db",
            influx_db,
            "--client-id",
            "ingest-e2e",
            log=logs / "ingest.log",
        )
        # Gateways start only once ingest holds its subscription: a QoS 1 message published
        # before any subscriber (or persistent session) exists is not kept by the broker.
        deadline = time.monotonic() + 30
        while "subscribed to" not in (logs / "ingest.log").read_text():
            assert procs["ingest"].poll() is None, (logs / "ingest.log").read_text()
            assert time.monotonic() < deadline, "ingest did not subscribe"
            time.sleep(0.1)
        for gw in GATEWAYS:
            procs[gw] = _cli(
                "gateway", "run", "--config", str(sim_dir / f"{gw}.toml"), log=logs / f"{gw}.log"
            )
        # Run until every gateway has published what the checks below need (a condition, not
        # a fixed time: on a loaded machine 14 s gave one interval too few).
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not _enough_published(recorder.batches):
            for name, proc in procs.items():
                assert proc.poll() is None, f"{name} died:\n{(logs / (name + '.log')).read_text()}"
            assert time.monotonic() < deadline, "the gateways did not publish enough in time"
            time.sleep(0.5)
        for gw in GATEWAYS:
            assert _stop(procs[gw]) == 0, (logs / f"{gw}.log").read_text()
        _stop(procs["devices"])

        # Every reading published, keyed by its point identity (a re-sent reading is one point).
        published = {}
        for batch in recorder.batches:
            for r in batch.readings:
                key = (
                    r.measurement,
                    batch.gateway,
                    r.sensor,
                    tuple(sorted(r.tags.items())),
                    r.time,
                )
                published[key] = r.fields
        per_kind = defaultdict(int)
        for measurement, gw, *_rest in published:
            per_kind[(gw, measurement)] += 1
        for gw in GATEWAYS:
            assert per_kind[(gw, "air_quality")] >= 10, per_kind
            assert per_kind[(gw, "traffic")] >= 4, per_kind

        store = InfluxStore(influx.url, influx_db)
        deadline = time.monotonic() + 20
        while True:
            stored = sum(store.count(m) for m in {key[0] for key in published})
            if stored == len(published) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert stored == len(published)

        truth = read_truth(truth_path)
        _assert_air_quality_matches_truth(store, truth)
        _assert_traffic_matches_truth(store, truth)
    finally:
        recorder.close()
        for proc in procs.values():
            _stop(proc)
    for gw in GATEWAYS:
        log = (logs / f"{gw}.log").read_text()
        assert "Traceback" not in log, log


def _enough_published(batches: list) -> bool:
    """Each gateway published at least 10 air-quality readings and 4 traffic intervals (the
    starts of its traffic_flow readings), what the test's checks ask for."""
    seen: dict[tuple[str, str], set] = defaultdict(set)  # a re-sent reading counts once
    starts: dict[str, set[int]] = defaultdict(set)
    for batch in list(batches):
        for r in batch.readings:
            seen[(batch.gateway, r.measurement)].add(
                (r.sensor, tuple(sorted(r.tags.items())), r.time)
            )
            if r.measurement == "traffic_flow":
                starts[batch.gateway].add(r.time)
    return all(
        len(seen[(gw, "air_quality")]) >= 10
        and len(seen[(gw, "traffic")]) >= 4
        and len(starts[gw]) >= 4
        for gw in GATEWAYS
    )


def _assert_air_quality_matches_truth(store: InfluxStore, truth: list[dict]) -> None:
    produced = defaultdict(set)
    for t in truth:
        if t["kind"] == "modbus_values":
            gw = t["device"].split("/")[0]
            produced[gw].add(tuple(sorted(t["fields"].items())))
    points = store.points("air_quality")
    assert points
    for p in points:
        fields = tuple(sorted((k, float(v)) for k, v in p.fields.items()))
        assert fields in produced[p.tags["gateway"]], (p, sorted(produced[p.tags["gateway"]])[:3])


#: The summary settings of the gateway configs `jagajalan simulate devices` writes (defaults).
TRAFFIC_SUMMARY = Params(interval_s=TRAFFIC_INTERVAL_S)


def _assert_traffic_matches_truth(store: InfluxStore, truth: list[dict]) -> None:
    """``traffic_flow`` and ``traffic`` in InfluxDB are exactly the summaries recomputed from
    every vehicle the simulators sent (testkit/traffic_reference.py): per interval published,
    no reading missing, none extra, every field equal. The generated configs set no
    ``directions``, so each lane's zero readings start with its first reading (the simulator
    sends no wrong-way vehicles by default) and from then on never miss an interval."""
    step = TRAFFIC_INTERVAL_S * 1000
    vehicles = defaultdict(list)
    for t in truth:
        if t["kind"] == "vehicle":
            gw, sensor = t["device"].split("/")
            vehicles[(gw, sensor)].append(t)
    stored = defaultdict(dict)
    for measurement in ("traffic_flow", "traffic"):
        for p in store.points(measurement):
            tags = {k: v for k, v in p.tags.items() if k not in ("gateway", "sensor")}
            key = (measurement, tuple(sorted(tags.items())), p.time_ms)
            stored[(p.tags["gateway"], p.tags["sensor"])][key] = p.fields
    assert sorted(stored) == sorted(vehicles) == [(gw, "cnt1") for gw in sorted(GATEWAYS)]
    for device, points in stored.items():
        series = defaultdict(list)  # (lane, direction) -> starts of its traffic_flow readings
        for measurement, tags, time_ms in points:
            if measurement == "traffic_flow":
                tag = dict(tags)
                series[(int(tag["lane"]), tag["direction"])].append(time_ms)
        assert set(series) == {(1, "N"), (2, "S")}, series
        starts = sorted({t for times in series.values() for t in times})
        assert len(starts) >= 4, starts
        assert starts == list(range(starts[0], starts[-1] + 1, step)), starts  # no gaps
        first = {pair: min(times) for pair, times in series.items()}
        for pair, times in series.items():  # zero traffic is data, from the first reading on
            assert sorted(times) == list(range(first[pair], starts[-1] + 1, step)), pair

        def dense(start: int, first=first) -> set[tuple[int, str]]:
            return {pair for pair, since in first.items() if since <= start}

        expected = expected_readings(vehicles[device], starts, dense, TRAFFIC_SUMMARY)
        assert points == expected, device
        assert sum(f["count"] for (m, *_), f in points.items() if m == "traffic_flow") >= 8
