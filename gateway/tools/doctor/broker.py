"""``gateway doctor``: the broker, in three steps that each say what is wrong.

1. **reachable**: a TCP connection to host:port (DNS failure, refused, no answer, no route).
2. **login**: an MQTT connection with the gateway's username and password file (TLS too for
   mqtts). The doctor's client id is ``<username>.doctor.<8 hex>`` (new each run; the
   username is the gateway id), so a running gateway keeps its own session, two doctors never
   take each other's, and the broker's rule (a client of user U connects as U or
   ``U.<anything>``: deploy/mosquitto/mosquitto.conf) accepts it. It has no Last Will (it must
   never announce the gateway offline). The password is read from its file and goes only to
   the broker, never to the output.
3. **publish round trip**: the gateway may publish only below ``jagajalan/v1/<id>/`` and the
   documented ACL lets it write ``readings`` and ``status`` only, so the test message goes to
   its own status topic, **not retained** (the retained status stays what it was), as a valid
   status carrying an extra ``"doctor": <nonce>`` key. Its state tells the truth about the
   gateway service: ``online`` if it is running (it holds the spool), else ``offline``. The
   doctor subscribes to the topic first; if the message comes back, that is the round trip.
   Mosquitto grants the subscription but never delivers to a user without read access, so
   when nothing comes back the broker's PUBACK is the proof (MQTT 5 reports an ACL refusal in
   the PUBACK; MQTT 3.1.1 cannot, which gives a warning instead).
"""

from __future__ import annotations

import errno
import secrets
import socket
import ssl
import threading
import time
import uuid
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import GatewayConfig
from gateway.tools.doctor.checks import Result
from kernel import __version__
from kernel.text import T
from telemetry import topics
from telemetry.codec import encode_status
from telemetry.models import Status, valid_time

UNSUPPORTED_PROTOCOL = 132
AUTH_FAILURES = (134, 135)  # bad user name or password; not authorized


def check_broker(
    config: GatewayConfig, running: bool, timeout: float = 5.0, echo_wait: float = 3.0
) -> list[Result]:
    mq = config.mqtt
    reach = _reach(mq.host, mq.port, mq.url, timeout)
    if reach.status == "fail":
        return [reach, _skip("auth", "skip.no_broker"), _skip("publish", "skip.no_broker")]
    login, client, protocol = _login(config, timeout)
    if client is None:
        return [reach, login, _skip("publish", "skip.no_login")]
    try:
        trip = _round_trip(client, protocol, config, running, timeout, echo_wait)
    finally:
        client.disconnect()
        client.loop_stop()
    return [reach, login, trip]


def errno_name(exc: OSError) -> str:
    """``ECONNRESET``: the symbolic errno, the same in every language (the OS text is not)."""
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _gai_name(exc: socket.gaierror) -> str:
    """``EAI_NONAME``: the resolver's error constant."""
    names = [n for n in dir(socket) if n.startswith("EAI_") and getattr(socket, n) == exc.errno]
    return names[0] if names else f"EAI {exc.errno}"


def _reason(code: Any) -> str:
    """An MQTT reason code as the spec names it: ``135 Not authorized``."""
    return f"{code.value} {code.getName()}"


def _skip(check: str, key: str) -> Result:
    return Result(check, T(f"name.{check}"), "skip", T(key))


def _reach(host: str, port: int, url: str, timeout: float) -> Result:
    name = T("name.broker")
    details: dict[str, Any] = {"url": url}
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        message = T("broker.dns", host=host, error=_gai_name(exc))
        return Result("broker", name, "fail", message, T("broker.dns.remedy"), details)
    except ConnectionRefusedError:
        message = T("broker.refused", url=url)
        return Result("broker", name, "fail", message, T("broker.refused.remedy"), details)
    except TimeoutError:
        message = T("broker.timeout", url=url, seconds=round(timeout))
        return Result("broker", name, "fail", message, T("broker.network.remedy"), details)
    except OSError as exc:
        message = T("broker.unreachable", url=url, error=errno_name(exc))
        return Result("broker", name, "fail", message, T("broker.network.remedy"), details)
    ms = round((time.monotonic() - started) * 1000)
    details["ms"] = ms
    return Result("broker", name, "pass", T("broker.ok", url=url, ms=ms), details=details)


Protocol = Literal["5", "3.1.1"]


def client_id(config: GatewayConfig) -> str:
    """``<username>.doctor.<8 hex>``, new on every call."""
    return f"{config.mqtt.username or config.gateway.id}.doctor.{secrets.token_hex(4)}"


def _client(
    config: GatewayConfig, protocol: Protocol, password: str | None, ident: str
) -> mqtt.Client:
    mq = config.mqtt
    if protocol == "5":
        client = mqtt.Client(CallbackAPIVersion.VERSION2, ident, protocol=mqtt.MQTTv5)
    else:  # a clean session: the doctor must leave no queue behind at the broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, ident, clean_session=True, protocol=mqtt.MQTTv311
        )
    if mq.username:
        client.username_pw_set(mq.username, password)
    if mq.tls:
        client.tls_set(
            ca_certs=str(mq.ca_file) if mq.ca_file else None,
            certfile=str(mq.certfile) if mq.certfile else None,
            keyfile=str(mq.keyfile) if mq.keyfile else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


def _login(config: GatewayConfig, timeout: float) -> tuple[Result, mqtt.Client | None, Protocol]:
    mq = config.mqtt
    name = T("name.auth")
    user = mq.username or "(anonymous)"
    details: dict[str, Any] = {"username": mq.username, "client_id": client_id(config)}
    try:
        password = mq.read_password()
    except OSError as exc:
        message = T("auth.password_unreadable", path=mq.password_file, error=errno_name(exc))
        return Result("auth", name, "fail", message, T("run_as_gateway.remedy")), None, "5"
    protocols: list[Protocol] = ["3.1.1"] if mq.protocol == "3.1.1" else ["5"]
    if mq.protocol == "auto":
        protocols.append("3.1.1")
    reason: Any = None
    for protocol in protocols:
        client = _client(config, protocol, password, details["client_id"])
        answered = threading.Event()
        answer: dict[str, Any] = {}

        def on_connect(_c, _u, _flags, rc, _props=None, answer=answer, answered=answered):
            answer["rc"] = rc
            answered.set()

        client.on_connect = on_connect
        client.connect_timeout = timeout
        try:
            client.connect(mq.host, mq.port, keepalive=30)
        except ssl.SSLError as exc:
            message = T("auth.tls", error=exc.reason or type(exc).__name__)
            return (
                Result("auth", name, "fail", message, T("auth.tls.remedy"), details),
                None,
                protocol,
            )
        except OSError as exc:
            message = T("broker.unreachable", url=mq.url, error=errno_name(exc))
            remedy = T("broker.network.remedy")
            return Result("auth", name, "fail", message, remedy, details), None, protocol
        client.loop_start()
        if not answered.wait(timeout):
            client.loop_stop()
            message = T("auth.no_answer", seconds=round(timeout))
            remedy = T("broker.network.remedy")
            return Result("auth", name, "fail", message, remedy, details), None, protocol
        reason = answer["rc"]
        if not reason.is_failure:
            details["protocol"] = protocol
            key = "auth.ok" if mq.username else "auth.anonymous"
            message = T(key, username=user, protocol=protocol)
            return Result("auth", name, "pass", message, details=details), client, protocol
        client.disconnect()
        client.loop_stop()
        if reason.value != UNSUPPORTED_PROTOCOL:
            break
    details["reason"] = reason.getName()
    if reason.value in AUTH_FAILURES:
        message = T("auth.refused", username=user, reason=_reason(reason))
        remedy = T("auth.refused.remedy", password_file=mq.password_file or "-", username=user)
    else:
        message = T("auth.rejected", reason=_reason(reason))
        remedy = T("auth.rejected.remedy")
    return Result("auth", name, "fail", message, remedy, details), None, protocol


def _round_trip(
    client: mqtt.Client,
    protocol: Protocol,
    config: GatewayConfig,
    running: bool,
    timeout: float,
    echo_wait: float,
) -> Result:
    name = T("name.publish")
    gw = config.gateway.id
    topic = topics.status(gw)
    nonce = uuid.uuid4().hex[:12]
    details: dict[str, Any] = {"topic": topic, "retained": False}
    cond = threading.Condition()
    events: dict[str, Any] = {"acks": {}, "echo": 0.0, "suback": None}

    def on_subscribe(_c, _u, _mid, codes, _props=None):
        with cond:
            events["suback"] = codes[0] if codes else None
            cond.notify_all()

    def on_publish(_c, _u, mid, rc, _props=None):
        with cond:
            events["acks"][mid] = (rc, time.monotonic())
            cond.notify_all()

    def on_message(_c, _u, msg):
        if nonce.encode() in msg.payload and not msg.retain:
            with cond:
                events["echo"] = time.monotonic()
                cond.notify_all()

    client.on_subscribe, client.on_publish, client.on_message = on_subscribe, on_publish, on_message
    with cond:
        client.subscribe(topic, qos=1)
        cond.wait_for(lambda: events["suback"] is not None, timeout)
    suback = events["suback"]
    can_read = suback is not None and not suback.is_failure
    now_ms = int(time.time() * 1000)
    status = Status(
        gateway=gw,
        state="online" if running else "offline",
        time=now_ms if valid_time(now_ms) else None,
        version=__version__,
        doctor=nonce,  # type: ignore[call-arg]  (extra keys are allowed in a status)
    )
    started = time.monotonic()
    info = client.publish(topic, encode_status(status), qos=1, retain=False)
    with cond:
        cond.wait_for(lambda: info.mid in events["acks"], timeout)
        ack, acked_at = events["acks"].get(info.mid, (None, None))
        if ack is not None and not ack.is_failure and can_read:
            cond.wait_for(lambda: events["echo"], echo_wait)
    if ack is None:
        message = T("publish.no_puback", seconds=round(timeout))
        return Result("publish", name, "fail", message, T("broker.network.remedy"), details)
    ms = round(((events["echo"] or acked_at) - started) * 1000)
    details["ms"] = ms
    if ack.is_failure:
        details["reason"] = ack.getName()
        message = T("publish.denied", topic=topic, reason=_reason(ack))
        return Result(
            "publish", name, "fail", message, T("publish.denied.remedy", gateway=gw), details
        )
    if events["echo"]:
        details["round_trip"] = "echo"
        return Result(
            "publish", name, "pass", T("publish.echo", topic=topic, ms=ms), details=details
        )
    details["round_trip"] = "puback"
    if protocol == "3.1.1":
        message = T("publish.puback_v311", topic=topic)
        return Result("publish", name, "warn", message, T("publish.puback_v311.remedy"), details)
    return Result("publish", name, "pass", T("publish.puback", topic=topic, ms=ms), details=details)
