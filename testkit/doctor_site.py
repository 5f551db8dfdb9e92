"""A roadside cabinet for ``gateway doctor`` tests: serial links with emulated devices on
pseudo-terminals, a gateway config, and the doctor run as the real command."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from simulators.devices.gps import GpsSim
from simulators.devices.modbus import ModbusSensorSim
from simulators.devices.serial_link import SerialLink
from simulators.devices.traffic_counter import TrafficCounterSim
from testkit import REPO
from testkit.gateway import to_toml

GW = "srl-dr-01"
PASSWORD = "rahasia-123"
INGEST = {"username": "ingest", "password": "ingest-pw"}


class Site:
    """A roadside cabinet on this machine: serial links with emulated devices, a config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stack = contextlib.ExitStack()
        self.devices: list[dict] = []

    def link(self, name: str, baudrate: int | None = None) -> SerialLink:
        return self.stack.enter_context(SerialLink(self.root / name, baudrate=baudrate))

    def modbus(self, ident: str = "env1", *, device_baud: int | None = None, config_baud=9600):
        link = self.link(f"tty-{ident}", device_baud)
        sim = ModbusSensorSim(link.device_path, "pm-th-generic", baudrate=device_baud or 9600)
        self.stack.enter_context(sim)
        self.devices.append(
            {
                "id": ident,
                "driver": "modbus",
                "serial": {"port": link.path, "baudrate": config_baud, "timeout": 0.5},
                "profile": "pm-th-generic",
                "retries": 1,
            }
        )

    def counter(self, ident: str = "cnt1", *, running: bool = True, baud: int = 9600) -> None:
        link = self.link(f"tty-{ident}", baud)
        if running:
            sim = TrafficCounterSim(link.device_path, heartbeat_interval=1.0, vehicles_per_minute=2)
            self.stack.enter_context(sim)
        self.devices.append(
            {"id": ident, "driver": "traffic_counter", "serial": {"port": link.path}}
        )

    def gps(self, ident: str = "gps1", clock_drift: float = 0.0) -> None:
        link = self.link(f"tty-{ident}")
        self.stack.enter_context(GpsSim(link.device_path, clock_drift=clock_drift))
        self.devices.append({"id": ident, "driver": "nmea_gps", "serial": {"port": link.path}})

    def config(self, url: str, password: str | None = PASSWORD, **mqtt: str) -> Path:
        if password is not None:
            secret = self.root / "mqtt-password"
            secret.write_text(password + "\n")
            secret.chmod(0o600)
            mqtt.update(username=GW, password_file=str(secret))
        data = {
            "gateway": {"id": GW},
            "mqtt": {"url": url, **mqtt},
            "spool": {"path": str(self.spool)},
            "devices": self.devices,
        }
        path = self.root / "gateway.toml"
        path.write_text(to_toml(data))
        return path

    @property
    def spool(self) -> Path:
        return self.root / "spool.sqlite"


def doctor(
    config: Path, *extra: str, wait: str = "5", columns: int = 400
) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "JAGAJALAN_LANG": ""}
    argv = [sys.executable, "-m", "jagajalan.cli", "gateway", "doctor", "--config", str(config)]
    return subprocess.run(
        [*argv, "--wait", wait, *extra],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=REPO,
        env=env,
    )
