"""Helpers for the ingest and InfluxDB store tests: a loopback HTTP receiver, an MQTT
publisher, the ingest command as a subprocess, /metrics scraping, and batch builders."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families

from telemetry import encode_batch, encode_status
from telemetry.models import Batch, Reading, Status
from testkit import children
from testkit.procs import stop as stop_process  # noqa: F401  (re-exported)
from testkit.services import Influx, Mosquitto, free_port, write_influx_conf

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z; tests stay within hours of it (one shard)
MIN = 60_000
HOUR = 3_600_000
#: Two whole hours before the test run: for points written through ingest, which keeps raw
#: points for 90 days (older ones are dead-lettered as beyond the retention policy).
RECENT = (int(time.time() * 1000) // HOUR - 2) * HOUR


def wait_for(check: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll *check* until it returns something truthy; fail naming *what* after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


# -- loopback HTTP receiver ----------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records every request and answers *status*."""

    status: int = 204
    answer: bytes = b""
    requests: list[Request] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer

    def __enter__(self) -> Receiver:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                owner.requests.append(
                    Request(
                        self.command,
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.answer)))
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(owner.answer)

            do_GET = do_POST = _handle

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- MQTT ----------------------------------------------------------------------------------


class Publisher:
    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def batch(gateway: str, seq: int, t: int = T0, *, lanes: int = 2) -> Batch:
    """An air-quality reading plus one traffic reading per lane; lane 2 had no vehicles, so
    it carries no speed_mean (a sparse field)."""
    readings = [
        Reading(
            sensor="env1",
            measurement="air_quality",
            time=t,
            fields={"pm25": 10.0 + seq, "pm10": 20.5, "humidity": 80},
        )
    ]
    for lane in range(1, lanes + 1):
        fields = {"count": 0} if lane == 2 else {"count": seq + 1, "speed_mean": 40.0 + seq}
        readings.append(
            Reading(
                sensor="cnt1",
                measurement="traffic",
                time=t,
                fields=fields,
                tags={"lane": str(lane)},
            )
        )
    return Batch(gateway=gateway, seq=seq, sent=t + 500, readings=readings)


def batch_bytes(gateway: str, seq: int, t: int = T0) -> bytes:
    return encode_batch(batch(gateway, seq, t))


def status_bytes(gateway: str, state: str, time_ms: int | None = None) -> bytes:
    return encode_status(Status(gateway=gateway, state=state, time=time_ms))


def raw_batch(**changes: object) -> bytes:
    """A batch as JSON with keys replaced, e.g. ``raw_batch(v=99)``."""
    obj = json.loads(batch_bytes("raw-gw", 0))
    obj.update(changes)
    return json.dumps(obj).encode()


# -- the ingest process --------------------------------------------------------------------


def start_ingest(*args: str, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    return children.start(
        [sys.executable, "-m", "jagajalan.cli", "--log-level", "INFO", "ingest", "run", *args],
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
    )


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples of a /metrics endpoint: (name, sorted labels) -> value; {} if not up yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ingest_args(broker: Mosquitto, influx_url: str, db: str, port: int, *extra: str) -> list[str]:
    return [
        "--broker-url",
        broker.url,
        "--influx-url",
        influx_url,
        "--influx-db",
        db,
        "--client-id",
        f"test-ingest-{uuid.uuid4().hex[:8]}",
        "--metrics-port",
        str(port),
        *extra,
    ]


def not_started_influx(tmp_path: Path) -> Influx:
    """An InfluxDB with its port chosen but not running yet (start it with .start())."""
    port = free_port()
    return Influx(port, tmp_path / "influx", write_influx_conf(tmp_path / "influx", port))


def wait_subscribed(proc: subprocess.Popen, port: int, log: Path) -> None:
    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        return metric(scrape(port), "jagajalan_ingest_connected") == 1

    wait_for(up, 20, "ingest to connect and subscribe")
