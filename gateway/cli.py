"""``jagajalan gateway run|check-config|doctor|scan``: the edge gateway on the command line.

``doctor`` and ``scan`` are the field technician's tools (gateway/tools/doctor/command.py,
gateway/tools/scan/command.py): Bahasa Indonesia by default, ``--lang en`` for English.
"""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_CONFIG = "/etc/jagajalan/gateway.toml"

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "gateway",
        help="the edge gateway: read serial sensors, spool to disk, publish over MQTT",
        description="The edge gateway: reads serial sensors, spools readings to disk and "
        "publishes them to the MQTT broker.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    from kernel.text import LANGS, default_lang

    run = actions.add_parser(
        "run",
        help="run the gateway until SIGTERM or SIGINT",
        description="Run the gateway: one thread per device, a durable spool and the MQTT "
        "publisher. Stops cleanly (publishing an 'offline' status) on SIGTERM or SIGINT.",
    )
    run.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"gateway TOML config (default {DEFAULT_CONFIG})"
    )
    run.add_argument(
        "--lang",
        choices=LANGS,
        default=default_lang(),
        help="language of config problems at start: id (default) or en; the log is English",
    )
    run.set_defaults(func=_run)

    check = actions.add_parser(
        "check-config",
        help="check a gateway config file and summarise it",
        description="Load and check a gateway config file; print every problem (exit 2) or a "
        "summary of the gateway and its devices (exit 0), in Bahasa Indonesia by default. "
        "Touches no device or broker.",
    )
    check.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"gateway TOML config (default {DEFAULT_CONFIG})"
    )
    check.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    check.set_defaults(func=_check_config)

    doctor = actions.add_parser(
        "doctor",
        help="check config, serial ports, devices, broker, spool, disk and clock",
        description="Field check of a gateway: the config, each serial port and device (one "
        "real read), the broker (reachable, login, a test publish), the spool, disk space and "
        "the clock. Prints a table with a remedy for each problem (Bahasa Indonesia by default). "
        "Exit status: 0 when every check passed (warnings allowed); 1 when a check failed; "
        "3 when what was checked passed but some checks could not run because the gateway "
        "service (or another program) holds the serial ports or the spool: the output names "
        "what was not checked and how to check it. Stop the gateway service first so doctor "
        "can use the serial ports.",
    )
    doctor.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"gateway TOML config (default {DEFAULT_CONFIG})"
    )
    doctor.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    doctor.add_argument("--json", action="store_true", help="machine-readable results")
    doctor.add_argument(
        "--wait",
        type=float,
        default=12.0,
        help="seconds to wait for a streaming device's first data (default 12: the traffic "
        "counter sends a heartbeat every 10 s)",
    )
    doctor.set_defaults(func=_doctor)

    scan = actions.add_parser(
        "scan",
        help="find Modbus RTU devices on a serial port (baud, unit, profile)",
        description="Scan a Modbus RTU bus over baud rates, parities and unit addresses, "
        "identify known profiles, and print a ready-to-paste [[devices]] TOML snippet (stdout; "
        "progress on stderr). Exit 0 if a device was found, 1 if none, 2 for bad arguments "
        "or a missing port.",
    )
    scan.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    scan.add_argument(
        "--bauds",
        help="baud rates to try, most likely first (default 9600,19200,4800,38400,"
        "57600,115200,2400)",
    )
    scan.add_argument("--units", help="unit addresses, e.g. 1-32 or 1,5,7-9 (default 1-32)")
    scan.add_argument("--parity", help="parities to try, e.g. N,E (default N)")
    scan.add_argument(
        "--timeout", type=float, default=0.15, help="seconds to wait for each answer (0.15)"
    )
    scan.add_argument("--lang", choices=LANGS, default=default_lang(), help="id or en")
    scan.set_defaults(func=_scan)


def _doctor(args: argparse.Namespace) -> int:
    from gateway.tools.doctor.command import run_doctor

    return run_doctor(args)


def _scan(args: argparse.Namespace) -> int:
    from gateway.tools.scan.command import run_scan

    return run_scan(args)


def _run(args: argparse.Namespace) -> int:
    from gateway.config import load_gateway_config
    from gateway.runtime.service import GatewayService
    from gateway.runtime.spool import SpoolError

    config = load_gateway_config(args.config)
    try:
        service = GatewayService(config)
    except SpoolError as exc:
        log.error("%s", exc)
        return 1
    return service.run()


def _check_config(args: argparse.Namespace) -> int:
    from gateway.config import load_gateway_config
    from kernel.config import ConfigError
    from kernel.text import tr

    lang = args.lang
    try:
        config = load_gateway_config(args.config)
    except ConfigError as exc:
        print(exc.render_in(lang), file=sys.stderr)
        return 2
    gw, mqtt = config.gateway, config.mqtt
    out = sys.stdout
    print(tr("check.ok", lang, file=args.config), file=out)
    if gw.site and gw.latitude is not None and gw.longitude is not None:
        where = f"{gw.latitude:.5f}, {gw.longitude:.5f}"
        print(tr("check.gateway_at", lang, id=gw.id, site=gw.site, where=where), file=out)
    elif gw.site:
        print(tr("check.gateway_site", lang, id=gw.id, site=gw.site), file=out)
    else:
        print(tr("check.gateway", lang, id=gw.id), file=out)
    if mqtt.username:
        line = tr(
            "check.broker_login", lang, url=mqtt.url, user=mqtt.username, file=mqtt.password_file
        )
    else:
        line = tr("check.broker", lang, url=mqtt.url)
    print(line, file=out)
    spool = tr("check.spool", lang, path=config.spool_path, max=config.spool.max_readings)
    print(spool, file=out)
    print(tr("check.devices", lang, n=len(config.devices)), file=out)
    for device in config.devices:
        serial = getattr(device, "serial", None)
        name = f"{device.id:<16} {device.driver}"  # type: ignore[attr-defined]
        if serial is not None:
            line = tr(
                "check.device_serial", lang, device=name, port=serial.port, baud=serial.baudrate
            )
        else:
            line = tr("check.device", lang, device=name)
        print("  " + line, file=out)
    return 0
