"""A roadside cabinet on the test bench: the emulated devices of one gateway
(simulators.devices.cabinet) and the real gateway drivers reading them over pseudo-terminals, built
from the gateway config the simulator writes (so that config is exercised too)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.config import load_gateway_config
from gateway.devices import DRIVERS
from gateway.devices.modbus.bus import BusPool
from simulators.devices.cabinet import DeviceOptions, start_gateway_devices, stop_gateway_devices
from simulators.devices.faults import Fault
from simulators.sites import site
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading
from testkit.drivers import wait_for  # noqa: F401  (re-exported to the cabinet tests)

GATEWAY = "srl-tembesi-01"

#: Faster timings than a roadside config, so that every fault shows within seconds.
OVERRIDES: dict[str, dict[str, Any]] = {
    "modbus": {"retries": 0, "reopen_interval": 0.3},
    "traffic_counter": {"heartbeat_timeout": 5.0, "reopen_interval": 0.3},
    "weather_ascii": {"answer_timeout": 0.5, "reopen_interval": 0.3},
    "nmea_gps": {"silence_timeout": 3.0, "reopen_interval": 0.3},
}


class Cabinet:
    def __init__(
        self,
        tmp: Path,
        *,
        devices: str = "all",
        faults: Iterable[Fault] = (),
        only: Iterable[str] | None = None,
        scenario: Any = None,
        speed: float | None = None,
        poll_interval: float = 0.4,
        settings: dict[str, dict[str, Any]] | None = None,
        gateway: str = GATEWAY,
    ) -> None:
        """*settings*: extra config keys per device id, on top of OVERRIDES; *gateway*: the
        simulated site (simulators/sites.py)."""
        self.gateway = gateway
        self.truth_path = tmp / "truth.jsonl"
        self.truth = TruthWriter(self.truth_path)
        clock = scenario.clock(speed) if scenario is not None else None
        self.origin = time.time()
        opts = DeviceOptions(
            devices=devices,
            poll_interval=poll_interval,
            env_update_interval=0.25,
            traffic_interval=2,
            vehicles_per_minute=60.0,
            faults=list(faults),
            scenario=scenario,
            scenario_clock=clock,
            origin=None if scenario is not None else self.origin,
        )
        self.clock = clock
        self.devices = start_gateway_devices(site(gateway), tmp / "sim", opts, self.truth)
        self.config = load_gateway_config(self.devices.config_path)
        self.readings: dict[str, list[Reading]] = defaultdict(list)
        self.drivers: dict[str, Any] = {}
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        pool = BusPool()
        wanted = None if only is None else set(only)
        for dev in self.config.devices:
            if wanted is not None and dev.id not in wanted:
                continue
            update = {**OVERRIDES[dev.driver], **(settings or {}).get(dev.id, {})}
            cfg = dev.model_copy(update=update)
            cls = DRIVERS[dev.driver][1]
            sink = self.readings[dev.id].extend
            kwargs = {"pool": pool} if dev.driver == "modbus" else {}
            driver = cls(cfg, sink, **kwargs)
            self.drivers[dev.id] = driver
            thread = threading.Thread(target=driver.run, args=(self.stop_event,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def states_seen(self, device: str, during: float, step: float = 0.02) -> set[str]:
        """Every state the driver of *device* was in, sampled for *during* seconds."""
        seen = set()
        deadline = time.monotonic() + during
        while time.monotonic() < deadline:
            seen.add(self.drivers[device].state)
            time.sleep(step)
        return seen

    def records(self, kind: str, device: str | None = None) -> list[dict]:
        full = None if device is None else f"{self.gateway}/{device}"
        return [
            r
            for r in read_truth(self.truth_path)
            if r["kind"] == kind and (full is None or r["device"] == full)
        ]

    def close(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(10)
        alive = [t.name for t in self.threads if t.is_alive()]
        stop_gateway_devices(self.devices)
        self.truth.close()
        assert not alive, f"drivers did not stop: {alive}"

    def __enter__(self) -> Cabinet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
