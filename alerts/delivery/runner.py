"""A sender from settings, for ``jagajalan alerts send`` (the sender alone: a second one for
availability, or the tests that kill a sender in the middle of sending) and for ``jagajalan
alerts run``, which runs the same :class:`~alerts.delivery.sender.Sender` in a thread."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from sqlalchemy import Engine

from alerts.delivery.sender import DeliveryMetrics, Sender

log = logging.getLogger("jagajalan.alerts.delivery")


def mqtt_client(settings: Any, client_id: str) -> Any:
    """A connected client for the MQTT alert topic (its thread started)."""
    from kernel.mqtt import Tls, new_client, parse_url

    address = parse_url(settings.broker_url)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    protocol = "3.1.1" if settings.mqtt_protocol == "3.1.1" else "5"
    tls = Tls(str(settings.ca_file)) if settings.ca_file else None
    client = new_client(
        client_id,
        protocol,
        username=settings.mqtt_username,
        password=password,
        address=address,
        tls=tls,
    )
    client.connect(address.host, address.port)
    client.loop_start()
    return client


def sender_from(settings: Any, engine: Engine, worker: str, client: Any, metrics: Any) -> Sender:
    channels = settings.channels(client, settings.mqtt_protocol != "3.1.1")
    return Sender(engine, channels, worker, settings.policy(), DeliveryMetrics(metrics))


def send_alone(settings: Any) -> int:
    """``jagajalan alerts send``: until SIGTERM or SIGINT."""
    from prometheus_client import CollectorRegistry

    from kernel.metrics import MetricsServer
    from kernel.signals import stop_event
    from registry.db import engine_for

    engine = engine_for(settings.database_url())
    worker = settings.worker or f"alerts-{os.getpid()}"
    user = settings.mqtt_username or "alerts"
    client = (
        mqtt_client(settings, f"{user}.delivery.{os.getpid()}")
        if settings.mqtt_alerts == "on"
        else None
    )
    registry = CollectorRegistry()
    server = MetricsServer(registry)
    port = server.serve(settings.metrics_port)
    sender = sender_from(settings, engine, worker, client, registry)
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


def start_thread(sender: Sender, stop: threading.Event, poll_s: float = 1.0) -> threading.Thread:
    thread = threading.Thread(
        target=sender.run, args=(stop, poll_s), name="alerts-sender", daemon=True
    )
    thread.start()
    return thread
