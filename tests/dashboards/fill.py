"""A real InfluxDB made as production makes it, filled from a simulator scenario.

``jagajalan store setup`` (retention policies, continuous queries), the scenario's readings
for every site every five scenario minutes, written as ingest writes a gateway's batches
(readings, ``gateway_batches``), each gateway's ``gateway_health`` readings and
status messages (made here: the scenario engine has no gateway internals; the values follow
the scenario clock, one gateway offline for two hours), stored as ingest stores them
(``status_points``: ``gateway_status`` with the software version,
``jagajalan_device_status`` with a node's firmware), and the alerts service's gauge of open
alerts (``gauge_points``), then the production commands: ``jagajalan store backfill`` (the
rollups), ``jagajalan registry import`` of examples/registry.toml and ``jagajalan dashboards
sites`` (the sites' tags), and ``jagajalan analytics backfill`` (the indicator measurements).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.gauge import gauge_points
from alerts.lifecycle.policy import Alert
from jagajalan.cli import main
from simulators.scenario.engine import Scenario
from store.influx import InfluxStore
from telemetry.mapping import batch_meta_point, batch_to_points, status_points
from telemetry.models import Batch, Reading, Status
from testkit.services import Influx

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "normal_day"
STEP_S = 300
COUNTER = "srl-pasar-01"  # forwards vehicle records, counts per class
OFFLINE = "srl-pauh-01"  # offline from 10:00 to 12:00 scenario time
VERSION = "0.1.0"


@dataclass(frozen=True)
class Filled:
    url: str
    database: str
    start_ms: int
    end_ms: int
    gateways: tuple[str, ...]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _health(seq: int, k: int, offline: bool) -> dict[str, float | int]:
    return {
        "uptime": float(k * STEP_S),
        "spool_depth": 40 * seq if offline else k % 7,
        "spool_oldest_age": 600.0 * seq if offline else float(k % 5),
        "dropped": 0,
        "decode_errors": k // 50,
        "devices_ok": 5,
        "devices_total": 5,
        "clock_offset": 0.01 * (k % 9 - 4),
    }


def _status(gateway: str, ms: int, k: int, offline: bool) -> Status:
    """What the gateway's status says (a Last Will while it is offline): its software version
    and, for a Modbus node whose profile reads a firmware register, that node's firmware."""
    if offline:
        return Status(gateway=gateway, state="offline")
    return Status(
        gateway=gateway,
        state="online",
        time=ms,
        version=VERSION,
        devices={"node1": "ok", "node2": "ok"},
        spool_depth=k % 7,
        dropped=0,
        spool_oldest_age=1.5,
        clock_offset=0.02,
        firmware={"node1": "2.07"},  # type: ignore[call-arg]  # free-form, like info
    )


def _open_alerts(t: float, offline: bool) -> list[Alert]:
    """What the acting alerts service counts: a flood warning all day, acknowledged; while the
    gateway is offline, its critical alert."""
    out = [
        Alert(
            "genangan/srl-tembesi-01/wl1@0",
            "genangan",
            "srl-tembesi-01",
            "wl1",
            "siaga",
            "warning",
            25.0,
            t,
            state="acknowledged",
        )
    ]
    if offline:
        out.append(
            Alert(
                f"gateway-offline/{OFFLINE}/@0",
                "gateway-offline",
                OFFLINE,
                "",
                "offline",
                "critical",
                "offline",
                t,
            )
        )
    return out


def _per_vehicle(vehicles: list, ms: int) -> list[Reading]:
    """What a counter with ``forward_records = true`` sends for an interval: one ``vehicle``
    record per vehicle, and one ``traffic`` reading per lane, direction and class."""
    out, groups = [], {}
    for v in vehicles:
        tags = {"lane": str(v.lane), "direction": v.direction, "vehicle_class": v.vehicle_class}
        fields = {"speed": v.speed, "length": v.length}
        out.append(
            Reading(
                sensor="cnt1",
                measurement="vehicle",
                time=round(v.time * 1000),
                fields=fields,
                tags=tags,
            )
        )
        groups.setdefault(tuple(sorted(tags.items())), []).append(v.speed)
    for key, speeds in sorted(groups.items()):
        speeds.sort()
        fields = {
            "count": len(speeds),
            "speed_mean": round(sum(speeds) / len(speeds), 1),
            "speed_p85": speeds[max(0, math.ceil(0.85 * len(speeds)) - 1)],
        }
        out.append(
            Reading(sensor="cnt1", measurement="traffic", time=ms, fields=fields, tags=dict(key))
        )
    return out


def fill(influx: Influx, database: str, workdir: Path) -> Filled:
    """Set up *database* and fill it with one scenario day that ended an hour ago."""
    day_s = 86_400
    start = (int(time.time()) // 3600) * 3600 - day_s - 3600
    sc = Scenario.load(SCENARIO, start=float(start))
    sites = sorted(sc.sites)
    url = influx.url
    link = ["--influx-url", url, "--influx-db", database]
    assert main(["store", "setup", *link]) == 0
    store = InfluxStore(url, database)
    try:
        for seq_base, gw in enumerate(sites):
            rows, seq = [], seq_base * 10_000
            for k in range(int(sc.duration // STEP_S) + 1):
                t = sc.start + k * STEP_S
                ms = round(t * 1000)
                hour = (t - sc.start) / 3600
                offline = gw == OFFLINE and 10 <= hour < 12
                for v in sc.readings(gw, t, interval=STEP_S):
                    if gw == COUNTER and v.measurement == "traffic":
                        continue  # this counter reports per class, below
                    rows.append(
                        Reading(
                            sensor=v.sensor,
                            measurement=v.measurement,
                            time=ms,
                            fields=v.fields,
                            tags=dict(v.tags),
                        )
                    )
                if gw == COUNTER:
                    rows += _per_vehicle(sc.vehicles(gw, t - STEP_S, t), ms)
                rows.append(
                    Reading(
                        sensor="gateway",
                        measurement="gateway_health",
                        time=ms,
                        fields=_health(k % 24, k, offline),
                    )
                )
                if k % 6 == 0:
                    store.write(status_points(_status(gw, ms, k, offline), ms))
                if gw == OFFLINE:  # one alerts service: its gauge, once per step
                    store.write(gauge_points(_open_alerts(t, offline), ms))
                if len(rows) >= 96 or k == int(sc.duration // STEP_S):
                    batch = Batch(gateway=gw, seq=seq, sent=ms + 1000, readings=rows)
                    store.write([*batch_to_points(batch), batch_meta_point(batch)])
                    rows, seq = [], seq + 1
    finally:
        store.close()
    start_ms, end_ms = round(sc.start * 1000), round(sc.end * 1000) + STEP_S * 1000
    window = ["--start", iso(start_ms), "--end", iso(end_ms)]
    assert main(["store", "backfill", *link, *window]) == 0
    registry = ["--registry-db", str(workdir / "registry.sqlite3")]
    assert main(["registry", "init", *registry]) == 0
    assert main(["registry", "import", *registry, str(ROOT / "examples" / "registry.toml")]) == 0
    assert main(["dashboards", "sites", *link, *registry]) == 0
    assert main(["analytics", "backfill", *link, *registry, *window]) == 0
    return Filled(url, database, start_ms, end_ms, tuple(sites))
