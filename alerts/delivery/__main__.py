"""``python -m alerts.delivery``: the sender on its own, until SIGTERM or SIGINT.

The alerts service (``jagajalan alerts run``) runs the same :class:`~alerts.delivery.sender.Sender`
in its own process; this entry point serves operations (a second sender for availability) and
the tests that kill a sender in the middle of sending.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from alerts.delivery.sender import DeliveryMetrics, Sender
from alerts.delivery.settings import DeliverySettings, default_worker
from kernel.config import ConfigError
from kernel.logs import setup_logging
from kernel.settings import add_options, load
from kernel.signals import stop_event

log = logging.getLogger("jagajalan.alerts.delivery")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alerts.delivery", description=__doc__)
    add_options(parser, DeliverySettings)
    args = parser.parse_args(argv)
    try:
        settings = load(DeliverySettings, args, os.environ)
    except ConfigError as problem:
        print(problem.render() if hasattr(problem, "render") else problem, file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    from prometheus_client import CollectorRegistry

    from kernel.metrics import MetricsServer
    from registry.db import engine_for

    engine = engine_for(settings.database_url())
    client = _mqtt(settings) if settings.mqtt_alerts == "on" else None
    registry = CollectorRegistry()
    server = MetricsServer(registry)
    port = server.serve(settings.metrics_port)
    worker = settings.worker or default_worker()
    sender = Sender(
        engine,
        settings.channels(client, settings.mqtt_protocol != "3.1.1"),
        worker,
        settings.policy(),
        DeliveryMetrics(registry),
    )
    with stop_event() as stop:
        log.info(
            "alert delivery started: worker=%s channels=%s metrics_port=%d",
            worker,
            ",".join(sorted(sender.channels)) or "none",
            port,
        )
        try:
            sender.run(stop, settings.poll_s)
        finally:
            server.close()
            if client is not None:
                client.loop_stop()
                client.disconnect()
            engine.dispose()
    return 0


def _mqtt(settings: DeliverySettings):  # type: ignore[no-untyped-def]
    from kernel.mqtt import new_client, parse_url

    address = parse_url(settings.broker_url)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    protocol = "3.1.1" if settings.mqtt_protocol == "3.1.1" else "5"
    client = new_client(
        f"{settings.mqtt_username or 'alerts'}.delivery.{os.getpid()}",  # the ACL plugin's form
        protocol,
        username=settings.mqtt_username,
        password=password,
        address=address,
    )
    client.connect(address.host, address.port)
    client.loop_start()
    return client


if __name__ == "__main__":
    sys.exit(main())
