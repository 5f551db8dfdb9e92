"""The channels a notification goes out on: a signed JSON webhook, e-mail over SMTP and an MQTT
alert topic (Telegram and WhatsApp: chat.py). Each ``send`` either returns (the receiver has
accepted the message) or raises :class:`DeliveryError` with a text safe to record and log:
never a secret (:func:`redact` removes every secret the channel holds from it).

What each channel can promise about duplicates (docs/alerts.md, "Delivery guarantees"): a
sender killed after the receiver accepted but before the outbox recorded it sends again after
the lease, with the same idempotency key:

- webhook: the key is the ``X-JagaJalan-Idempotency-Key`` header (and ``key`` in the body): a
  receiver that remembers keys drops the second one. Accepted means a 2xx answer.
- e-mail: the key is in the ``Message-ID`` (derived from it, the same on every retry) and in
  ``X-JagaJalan-Idempotency-Key``; mail servers and clients may or may not fold equal
  Message-IDs, so a person can see a rare duplicate. Accepted means the server took the DATA.
  smtplib rather than Apprise's ``mailto://``: it lets us set the Message-ID and our header,
  keeps the password out of any URL, and reports the server's refusal code.
- MQTT: QoS 1 to ``jagajalan/v1/alerts/<address>``, the key as the MQTT 5 user property
  ``idempotency-key`` and ``key`` in the JSON payload; accepted means the broker's PUBACK.
  QoS 1 is at least once by itself, so subscribers drop duplicates by the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, Protocol

import httpx
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from alerts.delivery import signing
from alerts.delivery.outbox import Claimed

ALERT_TOPIC = "jagajalan/v1/alerts/"
REDACTED = "(hidden)"


class DeliveryError(Exception):
    """A send that failed; ``str()`` is safe to record (no secret)."""


class Channel(Protocol):
    name: str

    def send(self, item: Claimed) -> None: ...


def redact(text: str, secrets: Iterable[SecretStr | str | None]) -> str:
    """*text* with every non-empty secret in it replaced."""
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if value:
            text = text.replace(value, REDACTED)
    return text


def payload(item: Claimed) -> dict[str, Any]:
    """What the webhook and MQTT carry: the key, the text people read, the event as data."""
    return {
        "key": item.key,
        "lang": item.lang,
        "subject": item.subject,
        "text": item.body,
        "event": json.loads(item.data),
    }


def body_bytes(item: Claimed) -> bytes:
    return json.dumps(payload(item), ensure_ascii=False, sort_keys=True).encode("utf-8")


@dataclass
class Webhook:
    """POST of the JSON payload to the address (a URL), signed (signing.py)."""

    secret: SecretStr
    timeout_s: float = 10.0
    clock: Callable[[], float] = time.time
    name: str = "webhook"

    def send(self, item: Claimed) -> None:
        body = body_bytes(item)
        stamp = int(self.clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            signing.TIMESTAMP: str(stamp),
            signing.SIGNATURE: signing.sign(self.secret.get_secret_value().encode(), stamp, body),
            signing.IDEMPOTENCY_KEY: item.key,
        }
        try:
            answer = httpx.post(item.address, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as error:
            raise DeliveryError(
                redact(f"webhook: {type(error).__name__}: {error}", [self.secret])
            ) from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryError(f"webhook: HTTP {answer.status_code}")


def message_id(key: str, domain: str) -> str:
    """The Message-ID of a notification: the same for every retry of its key."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@dataclass
class Email:
    """A plain-text UTF-8 e-mail to the address, through an SMTP server."""

    host: str
    port: int
    sender: str
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    domain: str = "jagajalan.alerts"
    timeout_s: float = 20.0
    name: str = "email"

    def compose(self, item: Claimed) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = item.address
        message["Subject"] = item.subject
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        message["Message-ID"] = message_id(item.key, self.domain)
        message[signing.IDEMPOTENCY_KEY] = item.key
        message["Content-Language"] = item.lang
        message.set_content(item.body)
        return message

    def send(self, item: Claimed) -> None:
        try:
            smtp_class = smtplib.SMTP_SSL if self.security == "ssl" else smtplib.SMTP
            with smtp_class(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password is not None:
                    smtp.login(self.username, self.password.get_secret_value())
                smtp.send_message(self.compose(item))
        except (smtplib.SMTPException, OSError) as error:
            text = f"email: {type(error).__name__}: {error}"
            raise DeliveryError(redact(text, [self.password])) from None


@dataclass
class Mqtt:
    """QoS 1 publish of the JSON payload on ``jagajalan/v1/alerts/<address>`` through a
    connected paho client (its loop running); waits for the PUBACK."""

    client: Any  # paho.mqtt.client.Client, connected
    timeout_s: float = 10.0
    mqtt5: bool = True
    name: str = "mqtt"

    def send(self, item: Claimed) -> None:
        topic = ALERT_TOPIC + item.address.strip("/")
        properties = None
        if self.mqtt5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = [("idempotency-key", item.key)]
            properties.ContentType = "application/json"
        info = self.client.publish(topic, body_bytes(item), qos=1, properties=properties)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as error:
            raise DeliveryError(f"mqtt: {error}") from None
        if not info.is_published():
            raise DeliveryError(f"mqtt: no PUBACK within {self.timeout_s:g} s")
