"""Emulate the serial devices of one or more gateways on pseudo-terminals.

``devices = "basic"`` (the default, light enough for ``make demo``): a Modbus RTU
particulate/temperature/humidity sensor ``env1`` and a traffic counter ``cnt1``.
``devices = "all"``: every device kind the gateway drivers speak, as in a full roadside
cabinet: one RS-485 line ``rs485`` with the five Modbus sensors of
:data:`simulators.devices.sources.BUS_UNITS` (particulate ``env1`` at unit 1, temperature and
humidity ``th1`` at 2, rain gauge ``rain1`` at 3, water level ``wl1`` at 4 with its
``params.reference``, road surface ``rs1`` at 5), the traffic counter ``cnt1``, the ASCII
weather station ``wx1`` and the NMEA GPS ``gps1``.

Each line sits behind a :class:`SerialLink` whose gateway-side path is
``<dir>/<gateway>-<line>``; a matching gateway config is written to ``<dir>/<gateway>.toml``.
With a scenario (``opts.scenario`` and ``opts.scenario_clock``) whose sites include the
gateway, the emulators read the scenario through their value hooks
(:mod:`simulators.devices.sources`); otherwise their own seeded patterns. ``opts.faults``
(:mod:`simulators.devices.faults`) are injected on the devices they name (``env1`` on every gateway,
``srl-pasar-01/env1`` on one).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulators.devices import sources
from simulators.devices.faults import Fault, FaultInjector, Target
from simulators.devices.gps import GpsSim
from simulators.devices.modbus import ModbusBusSim, SimSpec
from simulators.devices.serial_link import SerialLink
from simulators.devices.traffic_counter import TrafficCounterSim, direction_of
from simulators.devices.weather_station import WeatherStationSim
from simulators.devices.wire.wxt import PLAUSIBLE
from simulators.sites import Site
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

ENV_PROFILE = "pm-th-generic"
DEVICE_SETS = ("basic", "all")
#: Weather values an ``out_of_range`` fault can push beyond the gateway's plausible range.
WEATHER_RANGES = {q: PLAUSIBLE[q] for q in ("temperature", "humidity", "pressure", "wind_speed")}


def device_ids(devices: str) -> list[str]:
    """The sensor ids of a gateway's emulated devices, for a device set."""
    if devices == "basic":
        return ["env1", "cnt1"]
    return [u.sensor for u in sources.BUS_UNITS] + ["cnt1", "wx1", "gps1"]


@dataclass
class GatewayDevices:
    site: Site
    config_path: Path
    links: dict[str, SerialLink] = field(default_factory=dict)  # by line name
    sims: list = field(default_factory=list)
    injector: FaultInjector | None = None
    ports: dict[str, SerialLink] = field(default_factory=dict)  # by sensor id


@dataclass
class DeviceOptions:
    seed: int = 1
    env_update_interval: float = 1.0
    poll_interval: float = 2.0
    traffic_interval: int = 60
    vehicles_per_minute: float = 30.0
    lanes: tuple[int, ...] = (1, 2)
    broker_url: str = "mqtt://127.0.0.1:1883"
    spool_dir: Path | None = None
    max_batch: int = 50
    max_delay: float = 1.0
    devices: str = "basic"  # "basic" (env1, cnt1) or "all"
    scenario: Any = None  # simulators.scenario.engine.Scenario
    scenario_clock: Any = None  # its ScenarioClock (required with a scenario)
    faults: list[Fault] = field(default_factory=list)
    origin: float | None = None  # fault times count from here (default: scenario start / now)
    modbus_timeout: float = 0.5


def _basic_toml(links: dict[str, SerialLink], opts: DeviceOptions) -> str:
    lanes = ", ".join(str(lane) for lane in opts.lanes)
    directions = ", ".join(f'{lane} = "{direction_of(lane)}"' for lane in opts.lanes)
    return f"""
[[devices]]
id = "env1"
driver = "modbus"
serial = {{ port = "{links["env1"].path}", baudrate = 9600, timeout = {opts.modbus_timeout} }}
unit = 1
profile = "{ENV_PROFILE}"
poll_interval = {opts.poll_interval}

[[devices]]
id = "cnt1"
driver = "traffic_counter"
serial = {{ port = "{links["cnt1"].path}", baudrate = 9600 }}
interval = {opts.traffic_interval}
lanes = [{lanes}]
directions = {{ {directions} }}
"""


def _all_toml(site: Site, links: dict[str, SerialLink], opts: DeviceOptions) -> str:
    bus = links["rs485"].path
    out = ["\n# One RS-485 line, five Modbus sensors (serial settings shared, timeout per device)"]
    for u in sources.BUS_UNITS:
        params = ""
        if u.sensor == "wl1":
            params = (
                f"params = {{ reference = {sources.reference(opts.scenario, site.gateway)} }}\n"
            )
        out.append(
            f"""[[devices]]
id = "{u.sensor}"
driver = "modbus"
serial = {{ port = "{bus}", baudrate = 9600, timeout = {opts.modbus_timeout} }}
unit = {u.unit}
profile = "{u.profile}"
poll_interval = {opts.poll_interval}
{params}"""
        )
    basic = _basic_toml({"env1": links["rs485"], "cnt1": links["cnt1"]}, opts)
    cnt = basic[basic.index('[[devices]]\nid = "cnt1"') :]
    out.append(cnt)
    out.append(
        f"""[[devices]]
id = "wx1"
driver = "weather_ascii"
serial = {{ port = "{links["wx1"].path}", baudrate = 9600 }}
mode = "poll"
poll_interval = {max(1.0, opts.poll_interval)}

[[devices]]
id = "gps1"
driver = "nmea_gps"
serial = {{ port = "{links["gps1"].path}", baudrate = 9600 }}
"""
    )
    return "\n".join(out)


def gateway_config_toml(
    site: Site, links: dict[str, SerialLink], opts: DeviceOptions, spool: Path
) -> str:
    body = _basic_toml(links, opts) if opts.devices == "basic" else _all_toml(site, links, opts)
    return f"""# Gateway config generated by `jagajalan simulate devices` for {site.name}.
[gateway]
id = "{site.gateway}"
site = "{site.name}"
latitude = {site.latitude}
longitude = {site.longitude}

[mqtt]
url = "{opts.broker_url}"
protocol = "auto"  # MQTT 5, or 3.1.1 for the embedded demo broker

[publish]
max_batch = {opts.max_batch}
max_delay = {opts.max_delay}

[spool]
path = "{spool}"
{body}"""


def _modbus_ranges(sim: ModbusBusSim, unit: int) -> dict[str, tuple[float, float]]:
    fields = sim.units[unit].register_map.fields
    return {f.name: f.range for f in fields if f.range is not None and not f.counter}


def start_gateway_devices(
    site: Site, directory: Path, opts: DeviceOptions, truth: TruthWriter | None
) -> GatewayDevices:
    if opts.devices not in DEVICE_SETS:
        raise ValueError(f"devices must be one of {DEVICE_SETS}, got {opts.devices!r}")
    directory.mkdir(parents=True, exist_ok=True)
    gw = site.gateway
    devices = GatewayDevices(site, directory / f"{gw}.toml")
    # Each gateway gets its own deterministic stream derived from the run seed and its id.
    seed = opts.seed * 1_000_003 + zlib.crc32(gw.encode())
    sc = opts.scenario if opts.scenario is not None and gw in opts.scenario.sites else None
    clock = opts.scenario_clock if sc is not None else None
    source_clock = clock.now if clock is not None else None
    targets: list[Target] = []

    def hook(sensor: str):
        return sources.modbus_values(sc, gw, sensor) if sc is not None else None

    def link(name: str) -> SerialLink:
        devices.links[name] = SerialLink(directory / f"{gw}-{name}")
        return devices.links[name]

    try:
        if opts.devices == "basic":
            line, units = link("env1"), [sources.BUS_UNITS[0]]
        else:
            line, units = link("rs485"), list(sources.BUS_UNITS)
        specs = [
            SimSpec(
                u.unit,
                u.profile,
                seed + u.unit - 1,
                {"reference": sources.reference(sc, gw)} if u.sensor == "wl1" else {},
                f"{gw}/{u.sensor}",
                values=hook(u.sensor),
            )
            for u in units
        ]
        bus = ModbusBusSim(
            line.device_path,
            specs,
            update_interval=opts.env_update_interval,
            truth=truth,
            source_clock=source_clock,
        )
        devices.sims.append(bus)
        for u in units:
            devices.ports[u.sensor] = line
            ranges = _modbus_ranges(bus, u.unit)
            targets.append(Target(f"{gw}/{u.sensor}", line, u.unit, ranges, bus))
        cnt = link("cnt1")
        devices.ports["cnt1"] = cnt
        devices.sims.append(
            TrafficCounterSim(
                cnt.device_path,
                sensor_id=f"{gw}/cnt1",
                seed=seed + 1,
                lanes=opts.lanes,
                vehicles_per_minute=opts.vehicles_per_minute,
                truth=truth,
                vehicles=sources.vehicle_source(sc, gw) if sc is not None else None,
                source_clock=clock,
            )
        )
        targets.append(Target(f"{gw}/cnt1", cnt, sim=devices.sims[-1]))
        if opts.devices == "all":
            wx, gps = link("wx1"), link("gps1")
            devices.ports.update(wx1=wx, gps1=gps)
            weather = WeatherStationSim(
                wx.device_path,
                f"{gw}/wx1",
                seed + 10,
                truth=truth,
                source=sources.weather_source(sc, gw) if sc is not None else None,
                source_clock=source_clock,
            )
            gps_sim = GpsSim(
                gps.device_path,
                f"{gw}/gps1",
                seed + 11,
                latitude=site.latitude,
                longitude=site.longitude,
                truth=truth,
            )
            devices.sims += [weather, gps_sim]
            targets.append(Target(f"{gw}/wx1", wx, None, WEATHER_RANGES, weather))
            targets.append(Target(f"{gw}/gps1", gps, sim=gps_sim))
        faults = _faults_for(gw, opts.faults, device_ids(opts.devices))
        devices.injector = FaultInjector(
            faults,
            targets,
            truth=truth,
            now=clock.now if clock is not None else time.time,
            origin=opts.origin if opts.origin is not None else (clock.origin if clock else None),
            seed=seed,
        )
        for sim in devices.sims:
            if hasattr(sim, "value_filter"):
                sim.value_filter = devices.injector.filter_values
            sim.start()
        devices.injector.start()
    except BaseException:
        stop_gateway_devices(devices)
        raise
    spool_dir = opts.spool_dir or directory
    spool = spool_dir / f"{gw}-spool.sqlite"
    devices.config_path.write_text(gateway_config_toml(site, devices.links, opts, spool))
    return devices


def _faults_for(gateway: str, faults: list[Fault], local: list[str]) -> list[Fault]:
    """The faults naming a device of *gateway* (``env1`` or ``<gateway>/env1``), with the
    gateway-qualified name the truth lines use."""
    out = []
    for f in faults:
        name = f.device.removeprefix(f"{gateway}/")
        if name in local and (f.device == name or f.device.startswith(f"{gateway}/")):
            out.append(replace(f, device=f"{gateway}/{name}"))
    return out


def unknown_fault_devices(faults: list[Fault], gateways: list[str], devices: str) -> list[str]:
    """Devices named by *faults* that no emulated gateway has."""
    known = set(device_ids(devices))
    known |= {f"{g}/{d}" for g in gateways for d in device_ids(devices)}
    return sorted({f.device for f in faults} - known)


def stop_gateway_devices(devices: GatewayDevices) -> None:
    if devices.injector is not None:
        devices.injector.stop()
    for sim in devices.sims:
        try:
            sim.stop()
        except Exception:  # stopping must go on for the others
            log.exception("stopping simulator %s", sim)
    for line in devices.links.values():
        line.close()
