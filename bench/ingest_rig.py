"""The load rig of the ingest benchmarks (bench/ingest.py, bench/ingest_compact.py): the
seeded workload, a raw MQTT 3.1.1 publisher that pipelines pre-built packets, the broker's and
InfluxDB's own rates, and ingest workers on a shared subscription whose drain rate is measured
from their acknowledged-messages metric."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.procfs import peak_rss_mb
from store.influxql import quote_ident
from testkit.influx_setup import setup_database
from testkit.ingest import metric, scrape, start_ingest, stop_process, wait_for
from testkit.rates import varint, window_rate
from testkit.services import free_port

GATEWAYS = 200
HOUR = 3_600_000


def out(name: str, value: float | str, unit: str = "") -> None:
    shown = f"{value:.0f}" if isinstance(value, float) and value >= 100 else value
    if isinstance(value, float) and value < 100:
        shown = f"{value:.3f}"
    print(f"{name} {shown} {unit}".rstrip(), flush=True)


# -- workload ---------------------------------------------------------------------------------


def payload(gateway: int, seq: int, per: int, base_ms: int, mark: float | None = None) -> bytes:
    """A valid v1 batch of *per* air-quality readings; every reading of every message of a
    gateway has its own time, so each lands on its own point."""
    t0 = base_ms + seq * per * 1000
    pm = mark if mark is not None else 41.3
    readings = ",".join(
        f'{{"sensor":"env1","measurement":"air_quality","time":{t0 + i * 1000},"fields":'
        f'{{"pm25":{pm + (i % 7) / 10},"pm10":63.0,"temperature":29.4,"humidity":78.5}}}}'
        for i in range(per)
    )
    return (
        f'{{"v":1,"gateway":"bench-{gateway:04d}","seq":{seq},"sent":{t0 + 500},'
        f'"readings":[{readings}]}}'
    ).encode()


def workload(messages: int, per: int, base_ms: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"jagajalan/v1/bench-{i % GATEWAYS:04d}/readings",
            payload(i % GATEWAYS, i // GATEWAYS, per, base_ms),
        )
        for i in range(messages)
    ]


class RawPublisher:
    """A minimal MQTT 3.1.1 QoS 1 publisher on a plain socket (benchmark only): it pipelines
    pre-built PUBLISH packets and counts the PUBACKs, far faster than a general client."""

    def __init__(self, port: int, client_id: str = "bench-pub") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = client_id.encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
        self.sock.sendall(b"\x10" + varint(len(body)) + body)
        if self.sock.recv(4)[:2] != b"\x20\x02":
            raise RuntimeError("broker refused the benchmark publisher")
        self.acked = 0
        self._mid = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        rest = 0
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            rest += len(data)
            self.acked += rest // 4  # PUBACK is 4 bytes in 3.1.1; nothing else arrives
            rest %= 4

    def packet(self, topic: str, body: bytes) -> bytes:
        self._mid = self._mid % 65535 + 1
        t = topic.encode()
        var = struct.pack("!H", len(t)) + t + struct.pack("!H", self._mid)
        return b"\x32" + varint(len(var) + len(body)) + var + body

    def send(self, messages: list[tuple[str, bytes]], window: int = 20_000) -> None:
        """Publish all and wait for every PUBACK (at most *window* unacknowledged)."""
        start = self.acked
        for i in range(0, len(messages), 1000):
            while (start + i) - self.acked > window:
                time.sleep(0.001)
            self.sock.sendall(b"".join(self.packet(t, p) for t, p in messages[i : i + 1000]))
        wait_for(lambda: self.acked - start >= len(messages), 120, "PUBACKs", step=0.01)

    def close(self) -> None:
        self.sock.close()


# -- (a) and (b) ------------------------------------------------------------------------------


def broker_rate(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, str]:
    """Messages/s the broker delivers to a bare QoS 1 subscriber draining a backlog."""
    sub = shutil.which("mosquitto_sub")
    if sub is None:
        return 0.0, "mosquitto_sub not installed (Debian package mosquitto-clients)"
    args = [sub, "-p", str(port), "-q", "1", "-c", "-i", "bare", "-V", "mqttv5", "-x", "600"]
    subprocess.run([*args, "-t", "jagajalan/v1/+/readings", "-E"], check=True)
    pub = RawPublisher(port, "bench-pub-a")
    pub.send(messages)
    pub.close()
    started = time.perf_counter()
    cmd = [*args, "-t", "jagajalan/v1/+/readings", "-C", str(len(messages))]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return len(messages) / (time.perf_counter() - started), "mosquitto_sub"


def influx_rate(url: str, lines: list[str], writers: int, size: int = 5000) -> float:
    """Points/s InfluxDB accepts from *writers* clients sending *size*-line writes."""
    db = f"bench_b{writers}"
    client = httpx.Client(base_url=url, timeout=60)
    client.post("/query", data={"q": f"CREATE DATABASE {quote_ident(db)}"})
    bodies = ["\n".join(lines[i : i + size]).encode() for i in range(0, len(lines), size)]

    def post(body: bytes) -> None:
        r = client.post("/write", params={"db": db, "precision": "ms"}, content=body)
        r.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(post, bodies))
    rate = len(lines) / (time.perf_counter() - started)
    drop_database(url, db)
    return rate


def drop_database(url: str, db: str) -> None:
    """Drop *db*, so that the next drain or measure meets the same store as this one."""
    r = httpx.post(f"{url}/query", data={"q": f"DROP DATABASE {quote_ident(db)}"}, timeout=60)
    r.raise_for_status()


def compactions_active(url: str) -> int:
    """TSM compactions InfluxDB 1.x is running now, over all shards (its /debug/vars)."""
    return count_active(httpx.get(f"{url}/debug/vars", timeout=10, trust_env=False).json())


def count_active(stats: dict) -> int:
    """The running compactions in InfluxDB 1.x's /debug/vars document *stats*."""
    return sum(
        int(value)
        for name, entry in stats.items()
        if name.startswith("tsm1_engine")
        for key, value in entry.get("values", {}).items()
        if key.endswith("CompactionsActive")
    )


def influx_quiet(url: str, timeout: float = 180.0, step: float = 0.2) -> float:
    """Wait until InfluxDB runs no compaction in two polls in a row (what an earlier drain
    or measure left it to do), so each measured phase starts from the same state; the
    seconds waited. After *timeout* it goes on (a bench must finish), and says so."""
    started = time.monotonic()
    quiet_polls = 0
    while quiet_polls < 2:
        if time.monotonic() - started > timeout:
            print(
                f"InfluxDB still compacting after {timeout:.0f} s; measuring anyway",
                file=sys.stderr,
            )
            break
        quiet_polls = quiet_polls + 1 if compactions_active(url) == 0 else 0
        time.sleep(step)
    return time.monotonic() - started


# -- (c), (e) ---------------------------------------------------------------------------------


_poller = httpx.Client(timeout=2, trust_env=False)


def acked(port: int) -> float:
    """The worker's acknowledged messages. The benchmark asks for that one metric,
    uncompressed, on one kept client: a full scrape (all metrics, gzip; and ``httpx.get``,
    which builds a TLS context each time: 20 ms of CPU) at the benchmark's polling rate would
    take CPU from the worker and InfluxDB that a Prometheus scraping every 15 s does not."""
    try:
        r = _poller.get(
            f"http://127.0.0.1:{port}/metrics",
            params={"name[]": "jagajalan_ingest_messages_acked_total"},
            headers={"Accept-Encoding": "identity"},
            timeout=2,
        )
    except httpx.HTTPError:
        return 0.0
    for line in r.text.splitlines():
        if line.startswith("jagajalan_ingest_messages_acked_total "):
            return float(line.split()[1])
    return 0.0


class Workers:
    def __init__(
        self, work: Path, broker_url: str, influx_url: str, db: str, n: int, extra: tuple = ()
    ) -> None:
        self.work, self.n = work, n
        setup_database(influx_url, db)  # as an operator does before starting ingest
        self.ports = [free_port() for _ in range(n)]
        self.args = [
            [
                "--broker-url",
                broker_url,
                "--influx-url",
                influx_url,
                "--influx-db",
                db,
                "--client-id",
                f"bench-{db}-{i}",
                "--shared-group",
                db,
                "--metrics-port",
                str(port),
                *extra,
            ]
            for i, port in enumerate(self.ports)
        ]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        self.procs = [
            start_ingest(*a, log=self.work / f"worker-{i}.log") for i, a in enumerate(self.args)
        ]
        for port in self.ports:
            wait_for(
                lambda p=port: metric(scrape(p), "jagajalan_ingest_connected") == 1,
                60,
                "a worker to subscribe",
            )

    def acked(self) -> float:
        return sum(acked(p) for p in self.ports)

    def stop(self) -> list[float]:
        rss = [peak_rss_mb(p.pid) for p in self.procs]
        for p in self.procs:
            stop_process(p)
        return rss


def drain_rate(group: Workers, messages: int, step: float = 0.05) -> float:
    """Messages/s while *every* worker drains its share of the backlog.

    The workers' acknowledged counts are sampled every *step* seconds until all messages are
    acknowledged. The rate is taken from the first sample where every worker has acknowledged
    something to the first where one of them has finished its share: workers start a second
    or so apart (Python start-up on a busy machine), and a window from the first worker's
    first acknowledgement to the last worker's last would count that skew, twice, as time
    in which fewer workers ran."""
    samples: list[tuple[float, list[float]]] = []
    deadline = time.monotonic() + 600
    while True:
        counts = [acked(p) for p in group.ports]
        samples.append((time.perf_counter(), counts))
        if sum(counts) >= messages:
            return window_rate(samples)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(counts):.0f} of {messages} messages acknowledged")
        time.sleep(step)
