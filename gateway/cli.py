"""``jagajalan gateway run|check-config``: the edge gateway on the command line."""

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

    run = actions.add_parser(
        "run",
        help="run the gateway until SIGTERM or SIGINT",
        description="Run the gateway: one thread per device, a durable spool and the MQTT "
        "publisher. Stops cleanly (publishing an 'offline' status) on SIGTERM or SIGINT.",
    )
    run.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"gateway TOML config (default {DEFAULT_CONFIG})"
    )
    run.set_defaults(func=_run)

    check = actions.add_parser(
        "check-config",
        help="check a gateway config file and summarise it",
        description="Load and check a gateway config file; print every problem (exit 2) or a "
        "summary of the gateway and its devices (exit 0). Touches no device or broker.",
    )
    check.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"gateway TOML config (default {DEFAULT_CONFIG})"
    )
    check.set_defaults(func=_check_config)


def _run(args: argparse.Namespace) -> int:
    from gateway.config import load_gateway_config
    from gateway.service import GatewayService
    from gateway.spool import SpoolError

    config = load_gateway_config(args.config)
    try:
        service = GatewayService(config)
    except SpoolError as exc:
        log.error("%s", exc)
        return 1
    return service.run()


def _check_config(args: argparse.Namespace) -> int:
    from gateway.config import load_gateway_config

    config = load_gateway_config(args.config)
    gw, mqtt = config.gateway, config.mqtt
    where = f" at {gw.site}" if gw.site else ""
    if gw.latitude is not None and gw.longitude is not None:
        where += f" ({gw.latitude:.5f}, {gw.longitude:.5f})"
    out = sys.stdout
    print(f"{args.config}: ok", file=out)
    print(f"gateway {gw.id}{where}", file=out)
    auth = f" as {mqtt.username} (password from {mqtt.password_file})" if mqtt.username else ""
    print(f"broker  {mqtt.url}{auth}", file=out)
    print(f"spool   {config.spool_path} (at most {config.spool.max_readings} readings)", file=out)
    print(f"{len(config.devices)} device(s):", file=out)
    for device in config.devices:
        serial = getattr(device, "serial", None)
        port = f" on {serial.port} @ {serial.baudrate}" if serial is not None else ""
        print(f"  {device.id:<16} {device.driver}{port}", file=out)  # type: ignore[attr-defined]
    return 0
