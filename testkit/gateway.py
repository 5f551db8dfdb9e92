"""Test-only pieces for the gateway tests: a driver that emits readings, configs, a subscriber.

``EmitDriver`` is registered into ``gateway.devices.DRIVERS`` by the tests (monkeypatch) or by
``testkit/gateway_cli.py`` for gateway subprocesses; it is never part of the product.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import Field

from gateway.config import GatewayConfig, load_gateway_config
from gateway.devices import DRIVERS
from gateway.devices.base import DeviceConfig, Driver
from gateway.runtime.service import GatewayService
from telemetry import Reading
from testkit.services import require_binary

#: Reading times of EmitDriver: T0 + i ms for the i-th reading of a device.
T0 = 1_764_489_600_000


class EmitConfig(DeviceConfig):
    driver: Literal["test_emit"]
    count: int = 0  # readings to emit in total (over all runs with a log), then idle
    chunk: int = 1  # readings per sink call
    period: float = 0.0  # seconds between sink calls
    crash: bool = False  # raise out of run() every time (simulates a driver bug)
    #: A file where each reading handed to the sink is logged as "<index> <unix time>" once
    #: the sink has returned (= the spool has it). A restarted gateway resumes after the last
    #: logged index, so "every reading taken" is known exactly across kills and restarts.
    log: str | None = None
    #: Reported as Driver.info (firmware, position, clock_offset, ...).
    info: dict[str, Any] = Field(default_factory=dict)
    bad_frames: int = 0  # report this many crc_error events before the first reading
    t0: int = T0  # time of reading 0, ms (recent times for a store with a retention policy)


def read_emit_log(path: Path) -> dict[int, float]:
    """Index -> time taken, from an EmitDriver log (the last line may be cut by a kill)."""
    taken: dict[int, float] = {}
    if not path.exists():
        return taken
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            taken[int(parts[0])] = float(parts[1])
    return taken


class EmitDriver(Driver):
    """Emits readings ``traffic`` of sensor <id> at time t0 + i ms with ``count = i``."""

    config: EmitConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs = 0
        self.emitted: list[Reading] = []
        self.taken: list[tuple[int, float]] = []  # (index, wall time the sink returned)
        self.info = dict(self.config.info)

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        cfg = self.config
        if cfg.crash:
            raise RuntimeError(f"simulated driver bug in {cfg.id}")
        for _ in range(cfg.bad_frames if self.runs == 1 else 0):
            self.set_state("crc_error", "simulated bad frame")
        self.set_state("ok")
        log_path = Path(cfg.log) if cfg.log else None
        taken = read_emit_log(log_path) if log_path else {}
        index = max(taken, default=-1) + 1 if log_path else len(self.emitted)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if log_path else None
        try:
            while index < cfg.count and not stop.is_set():
                n = min(cfg.chunk, cfg.count - index)
                readings = [
                    Reading(
                        sensor=cfg.id, measurement="traffic", time=cfg.t0 + i, fields={"count": i}
                    )
                    for i in range(index, index + n)
                ]
                self.sink(readings)
                now = time.time()
                if fd is not None:
                    os.write(
                        fd, "".join(f"{i} {now:.3f}\n" for i in range(index, index + n)).encode()
                    )
                self.emitted.extend(readings)
                self.taken.extend((i, now) for i in range(index, index + n))
                index += n
                if cfg.period:
                    stop.wait(cfg.period)
        finally:
            if fd is not None:
                os.close(fd)
        stop.wait()


def register_emit_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DRIVERS, "test_emit", (EmitConfig, EmitDriver))


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


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    return repr(value)


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for gateway configs: tables of scalars and ``[[devices]]``."""
    out = []
    for table, body in data.items():
        if isinstance(body, list):
            for item in body:
                out.append(f"[[{table}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
        else:
            out.append(f"[{table}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
        out.append("")
    return "\n".join(out)


def write_config(
    tmp_path: Path,
    gateway_id: str,
    url: str,
    devices: list[dict[str, Any]],
    *,
    mqtt: dict[str, Any] | None = None,
    publish: dict[str, Any] | None = None,
) -> Path:
    data = {
        "gateway": {"id": gateway_id},
        "mqtt": {"url": url, "reconnect_min": 0.2, "reconnect_max": 1.0, **(mqtt or {})},
        "publish": {"max_batch": 50, "max_delay": 0.1, **(publish or {})},
        "spool": {"path": str(tmp_path / f"{gateway_id}-spool.sqlite")},
        "devices": devices,
    }
    path = tmp_path / f"{gateway_id}.toml"
    path.write_text(to_toml(data))
    return path


def login(folder: Path, username: str, secret: str) -> dict[str, str]:
    """A gateway config's ``[mqtt]`` login: *username*, and *secret* in a password file
    (mode 600) written in *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mqtt.password"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return {"username": username, "password_file": str(path)}


def make_config(
    tmp_path: Path, gateway_id: str, url: str, devices: list[dict[str, Any]], **kw: Any
) -> GatewayConfig:
    return load_gateway_config(write_config(tmp_path, gateway_id, url, devices, **kw))


def emit_device(ident: str, count: int, **kw: Any) -> dict[str, Any]:
    return {"driver": "test_emit", "id": ident, "count": count, "reopen_interval": 0.3, **kw}


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float = field(default_factory=time.time)  # when it arrived (unix time)

    def json(self) -> dict[str, Any]:
        return json.loads(self.payload)


class Subscriber:
    """A real MQTT client that records every message on *topics* (as ingest would)."""

    def __init__(
        self,
        port: int,
        topics: list[str],
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
    ) -> None:
        """With *client_id*, the session persists in the broker (also over a broker restart)."""
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.reconnect_delay_set(0.1, 0.5)
        if client_id:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
            self.client.connect_async("127.0.0.1", port, clean_start=False, properties=props)
        else:
            self.client.connect_async("127.0.0.1", port)

    def __enter__(self) -> Subscriber:
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscriber did not get its SUBACK"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Message(msg.topic, msg.payload, bool(msg.retain)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Message]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True


def batches(sub: Subscriber, gateway_id: str) -> list[dict[str, Any]]:
    return [m.json() for m in sub.on(f"jagajalan/v1/{gateway_id}/readings")]


def received_readings(sub: Subscriber, gateway_id: str) -> list[tuple[str, int]]:
    return [(r["sensor"], r["time"]) for b in batches(sub, gateway_id) for r in b["readings"]]


def current_status(port: int, gateway_id: str, **auth: Any) -> dict[str, Any] | None:
    """The retained status a fresh subscriber gets right now, or None."""
    with Subscriber(port, [f"jagajalan/v1/{gateway_id}/status"], **auth) as sub:
        sub.wait_for(lambda: bool(sub.messages), timeout=1.0)
        retained = [m for m in sub.messages if m.retain]
        return retained[-1].json() if retained else None


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def make_tls_files(directory: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl, EC P-256, 2 days)."""
    openssl = require_binary("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        name: directory / name
        for name in ("ca.pem", "ca.key", "server.pem", "server.key", "server.csr", "san.ext")
    }
    files["san.ext"].write_text("subjectAltName=IP:127.0.0.1\n")
    f = {name: str(path) for name, path in files.items()}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    ca = ["req", "-x509", *ec, "-keyout", f["ca.key"], "-out", f["ca.pem"]]
    csr = ["req", *ec, "-keyout", f["server.key"], "-out", f["server.csr"]]
    sign = ["x509", "-req", "-in", f["server.csr"], "-CA", f["ca.pem"], "-CAkey", f["ca.key"]]
    for args in (
        [*ca, "-subj", "/CN=jagajalan-test-ca"],
        [*csr, "-subj", "/CN=127.0.0.1"],
        [*sign, "-CAcreateserial", "-days", "2", "-extfile", f["san.ext"], "-out", f["server.pem"]],
    ):
        subprocess.run([openssl, *args], check=True, capture_output=True)
    return files


def make_client_cert(tls: dict[str, Path], common_name: str) -> tuple[Path, Path]:
    """A client certificate (CN = *common_name*) and its key (mode 600), signed by the CA of
    :func:`make_tls_files`, for mutual TLS."""
    openssl = require_binary("openssl")
    directory = tls["ca.pem"].parent
    key, csr, pem = (directory / f"{common_name}.{ext}" for ext in ("key", "csr", "pem"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    req = ["req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={common_name}"]
    sign = ["x509", "-req", "-in", str(csr), "-CA", str(tls["ca.pem"])]
    sign += ["-CAkey", str(tls["ca.key"]), "-CAcreateserial", "-days", "2", "-out", str(pem)]
    for args in (req, sign):
        subprocess.run([openssl, *args], check=True, capture_output=True)
    key.chmod(0o600)
    return pem, key
