"""Acceptance: durable store-and-forward, every part real.

A real Mosquitto (persistent sessions), a real ingest process writing to a real InfluxDB, and
the gateway as a real process (`jagajalan gateway run`). The devices are the test-only
``test_emit`` driver (testkit/gateway.py), which logs every reading the moment the spool
has it ("taken"), so the expected content of InfluxDB is known exactly, across kills and
restarts; one test uses the emulated Modbus sensor and traffic counter on pseudo-terminals.

A recorder subscribes with a persistent session, so it sees every message the broker
delivered, duplicates included: re-sent readings are visible there, and InfluxDB must still
hold each reading once (its point identity is measurement, tags and time).

Only two things are staged: the broker is stopped (a real SIGTERM, persisting its sessions),
or frozen with SIGSTOP (a stalled broker or link: it reads and acknowledges nothing, its
sockets stay open). Power loss cannot be staged here; see the fsync policy in
gateway/runtime/spool.py.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulators.devices.cabinet import DeviceOptions, start_gateway_devices, stop_gateway_devices
from simulators.sites import site
from store.influx import InfluxStore
from telemetry.codec import decode_batch
from testkit.gateway import (
    Subscriber,
    current_status,
    emit_device,
    read_emit_log,
    wait_until,
    write_config,
)
from testkit.influx_setup import setup_database
from testkit.procs import frozen, start_gateway, start_ingest, stop, wait_for_log
from testkit.services import Influx, Mosquitto, free_port, write_mosquitto_conf

pytestmark = pytest.mark.services

OUTAGE_S = 60  # required by the issue


@dataclass
class Rig:
    broker: Mosquitto
    store: InfluxStore
    recorder: Subscriber
    logs: Path
    #: Time of the test_emit readings' index 0: an hour ago, well inside the store's raw
    #: retention (ingest refuses points beyond it).
    t0: int

    def deliveries(self, gateway: str) -> list[tuple[int, float, list[dict[str, Any]]]]:
        """(seq, arrival time, readings) of every batch the broker delivered, in order."""
        out = []
        for m in self.recorder.on(f"jagajalan/v1/{gateway}/readings"):
            batch = decode_batch(m.payload)
            out.append((batch.seq, m.at, [r.model_dump() for r in batch.readings]))
        return out

    def first_arrivals(self, gateway: str, sensor: str) -> dict[int, float]:
        """Emit index -> when the reading first arrived at the recorder."""
        arrivals: dict[int, float] = {}
        for _, at, readings in self.deliveries(gateway):
            for r in readings:
                if r["sensor"] == sensor:
                    arrivals.setdefault(r["time"] - self.t0, at)
        return arrivals

    def delivered(self, gateway: str, sensor: str, taken_log: Path, before: float) -> bool:
        """Whether every reading logged as taken before *before* has arrived."""
        arrived = self.first_arrivals(gateway, sensor)
        return all(i in arrived for i, t in read_emit_log(taken_log).items() if t < before)

    def stored_indices(self, gateway: str, sensor: str) -> list[int]:
        points = self.store.points("traffic", gateway)
        return sorted(p.time_ms - self.t0 for p in points if p.tags["sensor"] == sensor)

    def wait_stored(self, gateway: str, count: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while True:
            stored = self.store.count("traffic", gateway)
            if stored >= count or time.monotonic() > deadline:
                time.sleep(1.0)  # anything beyond the expected would show up now
                return self.store.count("traffic", gateway)
            time.sleep(0.3)


@contextlib.contextmanager
def rig(tmp_path: Path, influx: Influx, db: str, name: str) -> Iterator[Rig]:
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    workdir = tmp_path / "broker"
    broker = Mosquitto(port, workdir, write_mosquitto_conf(workdir, port))
    broker.start()
    ingest: subprocess.Popen | None = None
    setup_database(influx.url, db)
    store = InfluxStore(influx.url, db)
    try:
        ingest = start_ingest(broker.url, influx.url, db, f"ingest-{name}", logs / "ingest.log")
        topics = ["jagajalan/v1/+/readings", "jagajalan/v1/+/status"]
        with Subscriber(port, topics, client_id=f"recorder-{name}") as recorder:
            yield Rig(broker, store, recorder, logs, int(time.time() - 3600) * 1000)
        assert stop(ingest) == 0, (logs / "ingest.log").read_text()
        assert "Traceback" not in (logs / "ingest.log").read_text()
    finally:
        if ingest is not None:
            stop(ingest)
        broker.stop()
        store.close()


def final_status(r: Rig, gateway: str) -> dict[str, Any]:
    status = current_status(r.broker.port, gateway)
    assert status is not None
    return status


def test_broker_outage_of_60_s_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    gw, rate, batch = "srl-outage-01", 40.0, 20
    taken_log = tmp_path / "c1.taken"
    publish = {"replay_rate": rate, "max_batch": batch, "max_delay": 0.2, "health_interval": 2}
    with rig(tmp_path, influx, influx_db, "outage") as r:
        device = emit_device("c1", 10_000_000, period=0.1, log=str(taken_log), t0=r.t0)
        config = write_config(tmp_path, gw, r.broker.url, [device], publish=publish)
        log = r.logs / "gateway.log"
        proc = start_gateway(config, log)
        try:
            assert wait_until(lambda: len(r.first_arrivals(gw, "c1")) >= 30, 30), log.read_text()
            down = time.time()
            r.broker.stop()
            time.sleep(OUTAGE_S)  # the gateway keeps taking readings: ~600 of them
            assert proc.poll() is None, log.read_text()
            up = time.time()
            r.broker.start()
            backlog_arrived = lambda: r.delivered(gw, "c1", taken_log, up)  # noqa: E731
            assert wait_until(backlog_arrived, timeout=120, step=0.5), log.read_text()
            time.sleep(3.0)  # fresh readings flow normally again
        finally:
            assert stop(proc) == 0, log.read_text()  # drivers first, then flush, then offline
        taken = read_emit_log(taken_log)
        stored = r.wait_stored(gw, len(taken))
        indices = r.stored_indices(gw, "c1")
        arrivals = r.first_arrivals(gw, "c1")
        deliveries = Counter(
            rd["time"] for _, _, rs in r.deliveries(gw) for rd in rs if rd["sensor"] == "c1"
        )
        status = final_status(r, gw)
        health = r.store.points("gateway_health", gw)

    # Every reading taken is stored, once: the count of points is exact.
    assert sorted(taken) == list(range(len(taken)))  # the emitter's own log is contiguous
    assert len(taken) >= 10 * (OUTAGE_S - 10)
    assert indices == sorted(taken)
    assert stored == len(taken)
    resent = sum(n - 1 for n in deliveries.values())  # readings the broker delivered twice
    assert sum(deliveries.values()) == len(taken) + resent  # ...and still stored once
    # The clean stop left nothing behind, and the last status says so.
    assert (status["state"], status["spool_depth"], status["dropped"]) == ("offline", 0, 0)
    assert status["devices"] == {"c1": "ok"} and status["version"]

    # Replay: the backlog of the outage (taken well after the broker stopped, so never in
    # flight before it) drains oldest first at about replay_rate...
    backlog = sorted(i for i, t in taken.items() if down + 2 < t < up)
    start = min(arrivals[i] for i in backlog)
    drained = max(arrivals[i] for i in backlog)
    assert [arrivals[i] for i in backlog] == sorted(arrivals[i] for i in backlog)
    duration = drained - start
    assert duration >= 0.8 * ((len(backlog) - batch) / rate - 1), (len(backlog), duration)
    assert duration <= 4 * len(backlog) / rate + 10, (len(backlog), duration)
    # ...while fresh readings went out as they came, before the backlog had drained.
    first_up = min(arrivals[i] for i, t in taken.items() if t > down + 2)
    fresh_early = [i for i, t in taken.items() if first_up < t < drained - 2]
    assert fresh_early, "no fresh reading was taken while the backlog drained"
    assert all(arrivals[i] < drained for i in fresh_early)

    # gateway_health went through the spool too: readings taken during the outage arrived
    # later, showing the backlog growing; the gateway's own counters are consistent.
    assert health, "no gateway_health points"
    during = [p for p in health if down * 1000 + 3000 < p.time_ms < up * 1000]
    assert len(during) >= OUTAGE_S / 2 - 5
    depths = [p.fields["spool_depth"] for p in sorted(during, key=lambda p: p.time_ms)]
    assert depths[-1] > depths[0] > 0 and all(isinstance(d, int) for d in depths)
    assert max(p.fields["spool_oldest_age"] for p in during) >= OUTAGE_S - 10
    assert {
        (p.fields["devices_ok"], p.fields["devices_total"], p.fields["dropped"]) for p in health
    } == {(1, 1, 0)}


def test_sigkill_mid_run_loses_nothing_it_had_taken(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    """The gateway is SIGKILLed while batches are in flight (the broker is frozen, so none of
    them has its PUBACK), then started again: it re-sends them under their seq and resumes."""
    gw = "srl-kill-01"
    taken_log = tmp_path / "c1.taken"
    with rig(tmp_path, influx, influx_db, "kill") as r:
        config = write_config(
            tmp_path,
            gw,
            r.broker.url,
            [emit_device("c1", 10_000_000, chunk=2, period=0.02, log=str(taken_log), t0=r.t0)],
            publish={"max_batch": 10, "max_delay": 0.1, "health_interval": 0},
        )
        log1, log2 = r.logs / "gateway-1.log", r.logs / "gateway-2.log"
        proc = start_gateway(config, log1)
        try:
            assert wait_until(lambda: len(r.first_arrivals(gw, "c1")) >= 50, 30), log1.read_text()
            assert r.broker.proc is not None
            with frozen(r.broker.proc):
                time.sleep(1.0)  # batches go out and wait for PUBACKs that do not come
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            killed_with = read_emit_log(taken_log)
            assert wait_until(lambda: final_status(r, gw)["state"] == "offline")  # Last Will
            proc = start_gateway(config, log2)
            wait_for_log(log2, "re-sent with the same seq", proc)
            restarted = time.time()
            # The backlog (~100 readings) drains at the default replay rate, 20/s.
            backlog_arrived = lambda: r.delivered(gw, "c1", taken_log, restarted + 1)  # noqa: E731
            assert wait_until(backlog_arrived, timeout=60, step=0.3), log2.read_text()
        finally:
            assert stop(proc) == 0, log2.read_text()
        taken = read_emit_log(taken_log)
        stored = r.wait_stored(gw, len(taken))
        indices = r.stored_indices(gw, "c1")
        deliveries = r.deliveries(gw)
        status = final_status(r, gw)

    assert sorted(taken) == list(range(len(taken)))  # resumed where the killed run stopped
    assert len(taken) >= len(killed_with) + 100  # and the second run took readings too
    assert indices == sorted(taken)  # nothing lost...
    assert stored == len(taken)  # ...nothing stored twice
    assert status["spool_depth"] == 0 and status["dropped"] == 0
    # The batches in flight at the kill went out again under their seq, with the same
    # readings; wherever the broker had taken one before the kill, it was delivered twice
    # and still landed on the same points.
    by_seq: dict[int, list[list[dict[str, Any]]]] = {}
    for seq, _, readings in deliveries:
        by_seq.setdefault(seq, []).append(readings)
    for copies in by_seq.values():
        assert all(c == copies[0] for c in copies)  # a repeated seq is always a re-send
    resent = [seq for seq, copies in by_seq.items() if len(copies) > 1]
    assert resent, "no batch was delivered twice"
    seqs = sorted(by_seq)
    assert seqs == list(range(seqs[0], seqs[-1] + 1))  # no gap: nothing dropped


def test_full_spool_drops_the_oldest_reports_the_exact_count_keeps_the_newest(
    tmp_path: Path, influx: Influx, influx_db: str
) -> None:
    """80 readings into a spool of 50 while the broker is down (compact encoding)."""
    gw = "srl-full-01"
    taken_log = tmp_path / "c1.taken"
    with rig(tmp_path, influx, influx_db, "full") as r:
        r.broker.stop()
        config = write_config(
            tmp_path,
            gw,
            r.broker.url,
            [emit_device("c1", 80, period=0.01, log=str(taken_log), t0=r.t0)],
            publish={"health_interval": 0, "status_interval": 1.0, "encoding": "compact"},
        )
        text = config.read_text().replace("[spool]\n", "[spool]\nmax_readings = 50\n")
        config.write_text(text)
        log = r.logs / "gateway.log"
        proc = start_gateway(config, log)
        try:
            assert wait_until(lambda: len(read_emit_log(taken_log)) == 80, 30), log.read_text()
            r.broker.start()
            assert wait_until(
                lambda: (current_status(r.broker.port, gw) or {}).get("spool_depth") == 0, 30
            ), log.read_text()
            status = final_status(r, gw)
        finally:
            assert stop(proc) == 0, log.read_text()
        stored = r.wait_stored(gw, 50)
        indices = r.stored_indices(gw, "c1")
    assert status["state"] == "online"
    assert status["dropped"] == 30  # exactly the readings that did not fit
    assert stored == 50 and indices == list(range(30, 80))  # the newest 50 survived
    assert "is full (50 readings): dropped the oldest" in log.read_text()


def test_emulated_devices_through_an_outage(tmp_path: Path, influx: Influx, influx_db: str) -> None:
    """The shipped command and drivers against the emulated Modbus particulate sensor and
    traffic counter (pseudo-terminals): a short outage, then everything the gateway published
    is stored once, the outage has no hole, and gateway_health tells the story."""
    gw = "srl-pasar-01"
    with rig(tmp_path, influx, influx_db, "devices") as r:
        opts = DeviceOptions(
            seed=11,
            broker_url=r.broker.url,
            poll_interval=0.5,
            env_update_interval=0.5,
            traffic_interval=2,
            vehicles_per_minute=60,
            max_delay=0.2,
        )
        devices = start_gateway_devices(site(gw), tmp_path / "sim", opts, None)
        proc: subprocess.Popen | None = None
        try:
            config = devices.config_path
            extra = "health_interval = 1.0\nstatus_interval = 1.0\nreplay_rate = 20.0\n"
            config.write_text(config.read_text().replace("[publish]\n", f"[publish]\n{extra}"))
            log = r.logs / "gateway.log"
            proc = start_gateway(config, log, real_cli=True)
            assert wait_until(
                lambda: (
                    (current_status(r.broker.port, gw) or {}).get("devices")
                    == {"env1": "ok", "cnt1": "ok"}
                ),
                timeout=30,
            ), log.read_text()
            time.sleep(3.0)
            down = time.time()
            r.broker.stop()
            time.sleep(6.0)
            up = time.time()
            r.broker.start()

            # Readings keep coming (every 0.5 s), so the depth is rarely exactly 0 when a
            # status goes out: the backlog is gone once nothing older than the outage's
            # end is waiting.
            def backlog_gone() -> bool:
                status = current_status(r.broker.port, gw) or {}
                fresh = (status.get("time") or 0) > (up + 1) * 1000
                return fresh and status.get("spool_oldest_age", 1e9) < 2.0

            assert wait_until(backlog_gone, 60, step=0.3), log.read_text()
        finally:
            if proc is not None:
                assert stop(proc) == 0
            stop_gateway_devices(devices)
        published: dict[str, set[tuple]] = {}
        for _, _, readings in r.deliveries(gw):
            for rd in readings:
                tags = tuple(
                    sorted({"gateway": gw, "sensor": rd["sensor"], **rd.get("tags", {})}.items())
                )
                published.setdefault(rd["measurement"], set()).add((tags, rd["time"]))
        assert {"air_quality", "traffic", "gateway_health"} <= set(published)
        for measurement in published:
            deadline = time.monotonic() + 30
            while r.store.count(measurement, gw) < len(published[measurement]):
                assert time.monotonic() < deadline, measurement
                time.sleep(0.3)
        stored = {
            m: {(tuple(sorted(p.tags.items())), p.time_ms) for p in r.store.points(m, gw)}
            for m in published
        }
        health = sorted(r.store.points("gateway_health", gw), key=lambda p: p.time_ms)
        air = sorted(p.time_ms for p in r.store.points("air_quality", gw))
    for measurement, points in published.items():
        assert stored[measurement] == points, measurement  # each published reading, once
    # No hole where the broker was down: the sensor was polled every 0.5 s throughout.
    assert len([t for t in air if down * 1000 < t < up * 1000]) >= 8
    assert max(b - a for a, b in itertools.pairwise(air)) <= 3000
    outage = [p for p in health if down * 1000 + 1500 < p.time_ms < up * 1000]
    assert outage and all(p.fields["spool_depth"] > 0 for p in outage)
    last = health[-1].fields
    assert (last["devices_ok"], last["devices_total"], last["dropped"]) == (2, 2, 0)
    assert isinstance(last["decode_errors"], int) and last["uptime"] > 10
