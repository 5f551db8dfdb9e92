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
``<dir>/<gateway>-<line>``; a matching gateway config is written to ``<dir>/<gateway>.toml``,
with every path in it relative to that folder (the config rule: a relative path in a config
file is resolved against the file's folder) or absolute. Each line has the device type's usual
settings (:data:`DEFAULT_LINES`: Modbus sensors, traffic counter and GPS 9600 8N1, the WXT
weather station 19200 8N1), or those of ``opts.lines``; the emulated devices answer only a
gateway set that way (:class:`SerialLink`), and the generated config says so.
With a scenario (``opts.scenario`` and ``opts.scenario_clock``) whose sites include the
gateway, the emulators read the scenario through their value hooks
(:mod:`simulators.devices.sources`); otherwise their own seeded patterns. ``opts.faults``
(:mod:`simulators.devices.faults`) are injected on the devices they name (``env1`` on every gateway,
``srl-pasar-01/env1`` on one).
"""

from __future__ import annotations

import json
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
from simulators.devices.serial_link import Line, SerialLink
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


#: The usual line settings of each line kind: generic Modbus RTU sensors and the traffic
#: counter at 9600 8N1, a Vaisala WXT5xx at its factory 19200 8N1, a u-blox GPS at 9600 8N1.
DEFAULT_LINES = {
    "env1": Line(9600),
    "rs485": Line(9600),
    "cnt1": Line(9600),
    "wx1": Line(19200),
    "gps1": Line(9600),
}


def line_names(devices: str) -> list[str]:
    """The serial lines of a device set (the Modbus sensors share ``rs485`` in ``all``)."""
    return ["env1", "cnt1"] if devices == "basic" else ["rs485", "cnt1", "wx1", "gps1"]


def parse_line_option(text: str, devices: str) -> tuple[str, Line]:
    """``env1=19200,8E1`` -> ("env1", Line(19200, "8E1")); a Modbus sensor of the ``all`` set
    names its line ``rs485``. ValueError says what is allowed."""
    name, sep, settings = text.partition("=")
    name = name.strip()
    if name in [u.sensor for u in sources.BUS_UNITS] and devices == "all":
        name = "rs485"
    known = line_names(devices)
    if not sep or name not in known:
        raise ValueError(
            f"--line {text!r}: give <line>=<baud>[,<frame>], e.g. env1=19200,8E1; "
            f"lines of --devices {devices}: {', '.join(known)}"
        )
    return name, Line.parse(settings)


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
    #: Line settings by line name (see :func:`line_names`); others: :data:`DEFAULT_LINES`.
    lines: dict[str, Line] = field(default_factory=dict)

    def line(self, name: str) -> Line:
        return self.lines.get(name, DEFAULT_LINES[name])


def _serial(link: SerialLink, directory: Path, **extra: float) -> str:
    """The ``serial`` table of a device: the port relative to the config's folder, the
    line's settings."""
    line = link.line
    parts = [f"port = {_path_in(Path(link.path), directory)}"]
    if line.baudrate is not None:
        parts += [
            f"baudrate = {line.baudrate}",
            f"bytesize = {line.bytesize}",
            f'parity = "{line.parity}"',
            f"stopbits = {line.stopbits}",
        ]
    parts += [f"{k} = {v}" for k, v in extra.items()]
    return "{ " + ", ".join(parts) + " }"


def _path_in(path: Path, directory: Path) -> str:
    """A TOML string for *path* as written in a config in *directory*: relative when inside
    it, else absolute."""
    try:
        text = str(path.absolute().relative_to(directory.absolute()))
    except ValueError:
        text = str(path.absolute())
    return json.dumps(text)


def _basic_toml(links: dict[str, SerialLink], opts: DeviceOptions, directory: Path) -> str:
    lanes = ", ".join(str(lane) for lane in opts.lanes)
    directions = ", ".join(f'{lane} = "{direction_of(lane)}"' for lane in opts.lanes)
    env = _serial(links["env1"], directory, timeout=opts.modbus_timeout)
    return f"""
[[devices]]
id = "env1"
driver = "modbus"
serial = {env}
unit = 1
profile = "{ENV_PROFILE}"
poll_interval = {opts.poll_interval}

[[devices]]
id = "cnt1"
driver = "traffic_counter"
serial = {_serial(links["cnt1"], directory)}
interval = {opts.traffic_interval}
lanes = [{lanes}]
directions = {{ {directions} }}
"""


def _all_toml(
    site: Site, links: dict[str, SerialLink], opts: DeviceOptions, directory: Path
) -> str:
    bus = _serial(links["rs485"], directory, timeout=opts.modbus_timeout)
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
serial = {bus}
unit = {u.unit}
profile = "{u.profile}"
poll_interval = {opts.poll_interval}
{params}"""
        )
    basic = _basic_toml({"env1": links["rs485"], "cnt1": links["cnt1"]}, opts, directory)
    cnt = basic[basic.index('[[devices]]\nid = "cnt1"') :]
    out.append(cnt)
    out.append(
        f"""[[devices]]
id = "wx1"
driver = "weather_ascii"
serial = {_serial(links["wx1"], directory)}
mode = "poll"
poll_interval = {max(1.0, opts.poll_interval)}

[[devices]]
id = "gps1"
driver = "nmea_gps"
serial = {_serial(links["gps1"], directory)}
"""
    )
    return "\n".join(out)


def gateway_config_toml(
    site: Site, links: dict[str, SerialLink], opts: DeviceOptions, spool: Path, directory: Path
) -> str:
    """The gateway config of *site*, to be written in *directory*: its paths are relative to
    that folder (or absolute), as the config rule reads them."""
    if opts.devices == "basic":
        body = _basic_toml(links, opts, directory)
    else:
        body = _all_toml(site, links, opts, directory)
    return f"""# Gateway config generated by `jagajalan simulate devices` for {site.name}.
# Relative paths are relative to this file's folder.
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
path = {_path_in(spool, directory)}
{body}"""


def _modbus_ranges(sim: ModbusBusSim, unit: int) -> dict[str, tuple[float, float]]:
    fields = sim.units[unit].register_map.fields
    return {f.name: f.range for f in fields if f.range is not None and not f.counter}


def start_gateway_devices(
    site: Site, directory: Path, opts: DeviceOptions, truth: TruthWriter | None
) -> GatewayDevices:
    if opts.devices not in DEVICE_SETS:
        raise ValueError(f"devices must be one of {DEVICE_SETS}, got {opts.devices!r}")
    unknown_lines = sorted(set(opts.lines) - set(line_names(opts.devices)))
    if unknown_lines:
        raise ValueError(f"lines {unknown_lines} are not lines of devices {opts.devices!r}")
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
        line = opts.line(name)
        devices.links[name] = SerialLink(directory / f"{gw}-{name}", line.baudrate, line.frame)
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
    text = gateway_config_toml(site, devices.links, opts, spool, directory)
    devices.config_path.write_text(text)
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
