"""One way to make an MQTT client, shared by the gateway, ingest, the simulators and the API.

URLs: ``mqtt://host[:1883]`` or ``mqtts://host[:8883]`` (TLS). Protocol: MQTT 5 where the
broker allows, with an automatic fall back to 3.1.1 for brokers that refuse 5 (the embedded
amqtt broker of ``make demo`` speaks only 3.1.1): :func:`negotiate_protocol` asks the broker
once with a short-lived v5 connection and remembers the answer.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kernel.fields import split_broker_url

log = logging.getLogger(__name__)

Protocol = Literal["auto", "5", "3.1.1"]
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason code 0x84 (v5) / return code 1 (v3)
#: PUBACK reason code 0x10 (MQTT 5, section 3.4.2.1): the broker accepted the message but had
#: no subscriber for it, so nobody will ever receive it. Not a failure by the spec's numbering.
NO_MATCHING_SUBSCRIBERS = 16


def unheard(reason: Any) -> bool:
    """A PUBACK that says the message reached no subscriber (MQTT 5 brokers only)."""
    return getattr(reason, "value", None) == NO_MATCHING_SUBSCRIBERS


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_url(url: str) -> BrokerAddress:
    """The rules of :data:`kernel.fields.BrokerUrl`; raises MqttUrlError saying what is
    wrong (never repeating credentials found in the URL)."""
    try:
        host, port, tls = split_broker_url(url)
    except ValueError as exc:
        raise MqttUrlError(f"broker URL: {exc}") from None
    return BrokerAddress(host, port, tls)


@dataclass(frozen=True)
class Tls:
    ca_file: str | None = None
    certfile: str | None = None
    keyfile: str | None = None


def new_client(
    client_id: str,
    protocol: Literal["5", "3.1.1"] = "5",
    *,
    username: str | None = None,
    password: str | None = None,
    address: BrokerAddress | None = None,
    tls: Tls | None = None,
) -> mqtt.Client:
    proto = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
    kwargs = {} if proto == mqtt.MQTTv5 else {"clean_session": False}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto, **kwargs)
    if username:
        client.username_pw_set(username, password)
    if address is not None and address.tls:
        tls = tls or Tls()
        client.tls_set(
            ca_certs=tls.ca_file,
            certfile=tls.certfile,
            keyfile=tls.keyfile,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


def negotiate_protocol(
    address: BrokerAddress,
    requested: Protocol = "auto",
    *,
    username: str | None = None,
    password: str | None = None,
    tls: Tls | None = None,
    timeout: float = 5.0,
) -> Literal["5", "3.1.1"]:
    """The protocol to use: *requested* unless "auto", then 5 unless the broker refuses it.

    An unreachable broker, or any other answer, keeps MQTT 5: the caller's reconnect logic
    deals with reachability.
    """
    if requested != "auto":
        return requested
    answer: dict[str, int] = {}
    done = threading.Event()
    # A client id of the user's own, new per run: the shipped broker accepts only the username
    # or "<username>.<anything>" (deploy/mosquitto/plugin), and a fixed id shared by every
    # gateway would let two probes kick each other off.
    probe_id = f"{username or 'jagajalan'}.probe.{secrets.token_hex(4)}"
    client = new_client(
        probe_id, "5", username=username, password=password, address=address, tls=tls
    )

    def on_connect(_c, _u, _flags, reason, _props=None) -> None:
        answer["rc"] = reason.value if hasattr(reason, "value") else int(reason)
        done.set()

    client.on_connect = on_connect
    client.on_connect_fail = lambda *_: done.set()
    try:
        client.connect(address.host, address.port, keepalive=10)
        client.loop_start()
        done.wait(timeout)
    except OSError:
        return "5"
    finally:
        client.loop_stop()
        try:
            client.disconnect()
        except Exception:  # paho raises if never connected; nothing to clean up then
            log.debug("probe disconnect failed", exc_info=True)
    if answer.get("rc") == UNSUPPORTED_PROTOCOL:
        log.info("broker %s does not speak MQTT 5; using MQTT 3.1.1", address)
        return "3.1.1"
    return "5"
