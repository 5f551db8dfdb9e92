"""`jagajalan simulate fleet` against a real Mosquitto: the summary is exactly what arrived.

A real paho subscriber counts every batch per gateway (decoded with the real codec) and the
test compares with the fleet's summary: batches, readings, contiguous seq ranges. Also with
per-gateway passwords and the protocol's ACL, with a broker that refuses some publishes
(MQTT 5 PUBACK "Not authorized": counted as refused, never as sent), a wrong password, an
unreachable broker and broken credentials files. Nothing is faked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from simulators.fleet.generator import FleetOptions, read_credentials
from simulators.fleet.mqtt import run_fleet
from telemetry import topics
from telemetry.codec import decode_batch, decode_status
from testkit.services import Mosquitto, free_port, mosquitto

pytestmark = pytest.mark.services

ACL = """# gateways: only their own subtree (docs/protocol.md)
pattern write jagajalan/v1/%u/readings
pattern write jagajalan/v1/%u/status
pattern read  jagajalan/v1/%u/cmd

user counter
topic read jagajalan/v1/+/readings
topic read jagajalan/v1/+/status
"""


class Counter:
    """A real subscriber counting batches per gateway (and the last status of each)."""

    def __init__(
        self,
        broker: Mosquitto,
        prefix: str = "",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.seqs: dict[str, list[int]] = defaultdict(list)
        self.readings: dict[str, int] = defaultdict(int)
        self.batches: list = []
        self.status: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv5,
            client_id=f"counter-{uuid.uuid4().hex[:8]}",
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe([(topics.ALL_READINGS, 1), (topics.ALL_STATUS, 1)])
        self.client.loop_start()
        assert subscribed.wait(10), "subscriber did not get its SUBACK"

    def _on_message(self, _c, _u, msg) -> None:
        gateway, kind = topics.parse(msg.topic)
        if not gateway.startswith(self.prefix):
            return
        with self.lock:
            if kind == "status":
                self.status[gateway].append(decode_status(msg.payload).state)
                return
            batch = decode_batch(msg.payload)
            self.seqs[gateway].append(batch.seq)
            self.readings[gateway] += len(batch.readings)
            self.batches.append(batch)

    def total(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.seqs.values())

    def wait_for(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.total() < n and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jagajalan.cli", "simulate", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _assert_summary_matches(summary: dict, counter: Counter, per_gateway: int) -> None:
    assert summary["totals"]["acked"] == counter.total()
    assert summary["totals"]["unacked"] == 0 and summary["totals"]["refused"] == 0
    for gateway, g in summary["per_gateway"].items():
        seqs = counter.seqs[gateway]
        assert g["acked"] == len(seqs) == per_gateway, gateway
        assert sorted(seqs) == list(range(per_gateway)), gateway  # each seq once, no gap
        assert g["acked_seq_ranges"] == [[0, per_gateway - 1]]
        assert g["readings_acked"] == counter.readings[gateway]
    assert summary["totals"]["readings_acked"] == sum(counter.readings.values())


def test_fleet_summary_equals_what_a_subscriber_counted(tmp_path: Path, broker: Mosquitto) -> None:
    """20 gateways x 2 batches/s x 5 s through the CLI: 200 batches, each one counted."""
    prefix = f"t{uuid.uuid4().hex[:6]}"
    counter = Counter(broker, prefix)
    summary_path = tmp_path / "summary.json"
    try:
        proc = _cli(
            "--gateways",
            "20",
            "--rate",
            "2",
            "--duration",
            "5",
            "--broker-url",
            broker.url,
            "--prefix",
            prefix,
            "--summary",
            str(summary_path),
            "--progress",
            "1",
        )
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(summary_path.read_text())
        counter.wait_for(200)
    finally:
        counter.close()
    assert summary["gateways"] == summary["connections"] == 20
    assert summary["totals"]["published"] == 200
    _assert_summary_matches(summary, counter, per_gateway=10)
    assert summary["totals"]["readings_acked"] == 200 * 10
    assert "terkirim" in proc.stderr and "kiriman/detik" in proc.stderr  # progress lines
    # Real values: the market site's air quality now (normal_day anchored to today).
    now_ms = time.time() * 1000
    air = [r for b in counter.batches for r in b.readings if r.measurement == "air_quality"]
    # The engine's floor is 1 ug/m3 (rain washes the air clean: below 5 is real at times);
    # PM10 always carries the fine fraction plus coarse dust.
    assert air and all(1.0 <= r.fields["pm25"] < 500 for r in air)
    assert all(r.fields["pm10"] > r.fields["pm25"] for r in air)
    assert all(abs(r.time - now_ms) < 60_000 for b in counter.batches for r in b.readings)
    # Each gateway said online, and offline at the end (retained, as real gateways do).
    for gateway in summary["per_gateway"]:
        assert counter.status[gateway][0] == "online" and counter.status[gateway][-1] == "offline"


def test_fleet_with_per_gateway_credentials_and_acl(tmp_path: Path) -> None:
    """Each gateway logs in as itself; the ACL lets it write only its own topics. Values come
    from the flood scenario at 1440x (readings carry scenario times); compact payloads (v2),
    decoded by the subscriber with the same decode_batch."""
    gateways = {f"srl-gw-{i:02d}": f"pw-{uuid.uuid4().hex[:10]}" for i in range(1, 6)}
    creds = tmp_path / "fleet.credentials"
    creds.write_text("# gateway:password\n" + "".join(f"{g}:{p}\n" for g, p in gateways.items()))
    passwords = {**gateways, "counter": "count-pw"}
    with mosquitto(tmp_path / "mq", passwords=passwords, acl=ACL) as b:
        counter = Counter(b, "srl-gw-", "counter", "count-pw")
        try:
            summary = run_fleet(
                FleetOptions(
                    rate=2,
                    duration=3,
                    broker_url=b.url,
                    credentials=creds,
                    scenario="rainy_season_flood",
                    speed=1440,
                    encoding="compact",
                )
            )
            counter.wait_for(30)
        finally:
            counter.close()
    assert summary["connections"] == 5 and summary["scenario"] == "rainy_season_flood"
    _assert_summary_matches(summary, counter, per_gateway=6)
    assert set(summary["per_gateway"]) == set(gateways)
    # Gateway 1 is the first site of the scenario (the low road by the river): water levels.
    assert summary["per_gateway"]["srl-gw-01"]["site"] == "srl-tembesi-01"
    water = [
        r
        for b in counter.batches
        if b.gateway == "srl-gw-01"
        for r in b.readings
        if r.measurement == "water_level"
    ]
    assert water
    day1 = 1_768_150_800_000  # 2026-01-12 00:00 WIB, the scenario's day 1
    assert all(day1 - 3_600_000 < r.time < day1 + 86_400_000 for r in water)


def test_refused_publishes_are_counted_apart_never_as_sent(tmp_path: Path) -> None:
    """Two gateways, each on its own anonymous connection; the ACL lets only the first write.
    Mosquitto 2.0 answers each of the second's publishes with PUBACK "Not authorized" (MQTT 5)
    and then drops that connection; the fleet reconnects it, paho re-sends what was still in
    flight, and in the end every batch is either acked or refused, never both.

    (On one shared connection the outcome depends on timing: Mosquitto closes the connection
    right after its refusal while paho's re-sent packets are unread, the kernel resets it and
    the PUBACK can be lost, so the allowed gateway's batches queued behind may miss the drain.
    A real fleet gives each gateway its own connection, as here.)"""
    acl = "topic write jagajalan/v1/fleet-0001/readings\ntopic read jagajalan/v1/+/readings\n"
    with mosquitto(tmp_path / "mq", acl=acl) as b:
        counter = Counter(b, "fleet-")
        try:
            opts = FleetOptions(
                rate=2,
                duration=2,
                gateways=2,
                connections=2,
                broker_url=b.url,
                protocol="5",
                status=False,
                # Each reconnect re-sends what is still in flight and Mosquitto drops the
                # connection after its first refusal; the reset can lose that refusal's PUBACK,
                # so on a loaded machine it takes several reconnects (backoff 1, 2, 4, ... s)
                # before every batch is answered: 30 s once saw only 2 of 4 refusals.
                drain_timeout=90,
            )
            summary = run_fleet(opts)
            counter.wait_for(4)
        finally:
            counter.close()
    allowed, refused = summary["per_gateway"]["fleet-0001"], summary["per_gateway"]["fleet-0002"]
    assert summary["connections"] == 2
    # A re-sent batch may reach the subscriber twice (QoS 1); each seq is counted once.
    assert allowed["acked"] == 4 and set(counter.seqs["fleet-0001"]) == {0, 1, 2, 3}
    assert allowed["acked_seq_ranges"] == [[0, 3]] and allowed["refused"] == 0
    assert refused["published"] == 4 and refused["acked"] == 0 and refused["refused"] == 4
    assert refused["refused_reasons"] == {"Not authorized": 4}
    assert refused["acked_seq_ranges"] == [] and "fleet-0002" not in counter.seqs
    assert summary["totals"]["refused"] == 4 and summary["totals"]["acked"] == 4
    assert summary["totals"]["unacked"] == 0


def test_batches_nobody_subscribed_to_are_refused_not_acked(tmp_path: Path) -> None:
    """MQTT 5 PUBACK 0x10 "No matching subscribers": the broker took the batch, nobody got it.
    Counted as refused with that reason, so that acked readings are ones ingest could store."""
    with mosquitto(tmp_path / "mq") as b:
        opts = FleetOptions(
            rate=2, duration=1, gateways=1, broker_url=b.url, protocol="5", status=False
        )
        summary = run_fleet(opts)
    gw = summary["per_gateway"]["fleet-0001"]
    assert gw["published"] == 2 and gw["acked"] == 0 and gw["refused"] == 2
    assert gw["refused_reasons"] == {"No matching subscribers": 2}
    assert summary["totals"]["unacked"] == 0


def test_wrong_password_is_reported_for_that_gateway(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.write_text("srl-a-01:right\nsrl-b-01:wrong\n")
    passwords = {"srl-a-01": "right", "srl-b-01": "other", "counter": "count-pw"}
    with mosquitto(tmp_path / "mq", passwords=passwords, acl=ACL) as b:
        counter = Counter(b, "srl-", "counter", "count-pw")  # ingest's place: someone listens
        summary_path = tmp_path / "s.json"
        proc = _cli(
            "--credentials",
            str(creds),
            "--rate",
            "2",
            "--duration",
            "1",
            "--broker-url",
            b.url,
            "--summary",
            str(summary_path),
        )
        counter.close()
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "srl-b-01:" in proc.stderr and "refused the connection" in proc.stderr
    summary = json.loads(summary_path.read_text())
    bad, good = summary["per_gateway"]["srl-b-01"], summary["per_gateway"]["srl-a-01"]
    assert bad["published"] == 0
    assert bad["connect_error"] == (
        "broker refused the connection: Not authorized (wrong username or password?)"
    )
    assert good["acked"] == 2 and summary["totals"]["gateways_failed_to_connect"] == 1


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    summary = run_fleet(
        FleetOptions(
            rate=1,
            duration=1,
            gateways=2,
            broker_url=f"mqtt://127.0.0.1:{free_port()}",
            protocol="5",
            connect_timeout=5,
        )
    )
    assert summary["totals"]["published"] == 0
    for g in summary["per_gateway"].values():
        assert g["connect_error"].startswith("cannot connect to mqtt://127.0.0.1:")


def test_broken_credentials_file_names_file_line_and_problem(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.write_text("srl-a-01:pw\nno-colon-here\nBad_Id:pw\nsrl-a-01:again\ndeadletter:pw\n")
    proc = _cli("--credentials", str(creds), "--duration", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    for text in (
        str(creds),
        "line 2",
        "expected <gateway-id>:<password>",
        "line 3",
        "'Bad_Id'",
        "not a gateway id",
        "line 4",
        "listed twice",
        "line 5",
        "'deadletter' is reserved",  # ingest's dead letters, never a gateway
    ):
        assert text in proc.stderr, (text, proc.stderr)
    assert "pw" not in proc.stderr.replace(str(creds), "")  # passwords are never shown
    with pytest.raises(Exception, match="file not found"):
        read_credentials(tmp_path / "missing")


def test_option_errors(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.write_text("srl-a-01:pw\n")
    proc = _cli("--credentials", str(creds), "--connections", "1")
    assert proc.returncode == 2
    assert "every gateway needs its own connection" in proc.stderr
    proc = _cli("--gateways", "2", "--prefix", "ingest", "--duration", "1")
    assert proc.returncode == 2 and "--prefix 'ingest' makes reserved ids" in proc.stderr
    proc = _cli("--rate", "0")
    assert proc.returncode == 2
    assert "--rate must be a positive" in proc.stderr and "give --gateways N" in proc.stderr
    proc = _cli("--gateways", "2", "--scenario", "monsoon", "--duration", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "monsoon.toml" in proc.stderr
    assert "`first_rains, haze_episode" in proc.stderr  # the shipped list, in either language
