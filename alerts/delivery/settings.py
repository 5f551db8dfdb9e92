"""Settings of alert delivery: the channels' servers and secrets, the retry schedule.

:class:`Channels` is a settings group for the alerts service (``jagajalan alerts run`` includes
it); :class:`DeliverySettings` is the sender on its own (``jagajalan alerts send``). The
channels and the outbox are imported only when used: building the command line (every
``jagajalan`` start, also on a gateway without the server packages) needs none of them. Secrets
(the webhook's HMAC secret, the SMTP password, the Telegram bot token, the WhatsApp access
token, the SMS gateway's API token) come only from a file (``--x-file``, ``JAGAJALAN_X_FILE``)
or ``JAGAJALAN_X``, never from the command line, and never appear in logs or errors
(kernel/settings.py).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from kernel.fields import ClientId, MqttLink, Rule, Secret, SettingsGroup, given
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink

if TYPE_CHECKING:
    from alerts.delivery.channels import Channel
    from alerts.delivery.outbox import Policy


class Channels(SettingsGroup):
    """How alerts reach people and systems."""

    group: ClassVar[str] = "alert delivery"

    base_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="the API's public address, for the map link in messages (…/peta?site=)",
    )
    webhook_secret: Secret | None = Field(None, description="HMAC-SHA256 key of the webhooks")
    smtp_host: str | None = Field(None, min_length=1, description="SMTP server for e-mail")
    smtp_port: int = Field(587, ge=1, le=65_535, description="SMTP port")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="STARTTLS, TLS from the start (ssl, port 465), or none"
    )
    smtp_username: str | None = Field(None, min_length=1, description="SMTP user")
    smtp_password: Secret | None = Field(None, description="SMTP password")
    smtp_from: str | None = Field(None, min_length=3, description="the e-mails' From address")
    telegram_bot_token: Secret | None = Field(None, description="Telegram bot token")
    whatsapp_token: Secret | None = Field(None, description="WhatsApp Cloud API access token")
    whatsapp_from: str | None = Field(
        None, pattern=r"^\d{5,32}$", description="WhatsApp Cloud API sender phone number id"
    )
    sms_gateway_url: str | None = Field(
        None,
        pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+/?$",
        description="the SMSEagle SMS gateway on the office network, e.g. http://192.168.1.50",
    )
    sms_token: Secret | None = Field(None, description="the SMS gateway's API access token")
    retry_base_s: float = Field(5, gt=0, le=3600, description="first wait after a failed send")
    retry_cap_s: float = Field(900, gt=0, le=86_400, description="longest wait between sends")
    max_attempts: int = Field(50, ge=1, le=10_000, description="sends before giving up")
    lease_s: float = Field(
        60, ge=1, le=3600, description="a claimed send is retried after this if its sender died"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        out: list[Rule] = []
        if given(values, "smtp_password") and not given(values, "smtp_username"):
            out.append((("smtp_username",), "an SMTP password needs a username"))
        if given(values, "smtp_host") and not given(values, "smtp_from"):
            out.append((("smtp_from",), "e-mail needs a From address"))
        if given(values, "whatsapp_token") and not given(values, "whatsapp_from"):
            out.append((("whatsapp_from",), "WhatsApp needs the sender's phone number id"))
        if given(values, "sms_token") and not given(values, "sms_gateway_url"):
            out.append((("sms_gateway_url",), "SMS needs the gateway's address"))
        if given(values, "sms_gateway_url") and not given(values, "sms_token"):
            out.append((("sms_token",), "the SMS gateway needs its API token: --sms-token-file"))
        return out

    def policy(self) -> Policy:
        from alerts.delivery.outbox import Policy

        return Policy(self.retry_base_s, self.retry_cap_s, self.max_attempts, self.lease_s)

    def channels(self, mqtt_client: Any = None, mqtt5: bool = True) -> dict[str, Channel]:
        """The channels these settings configure (MQTT when a connected client is given)."""
        from alerts.delivery.channels import Email, Mqtt, Webhook
        from alerts.delivery.chat import sms, telegram, whatsapp

        out: dict[str, Channel] = {}
        if self.webhook_secret is not None:
            out["webhook"] = Webhook(self.webhook_secret)
        if self.smtp_host and self.smtp_from:
            out["email"] = Email(
                self.smtp_host,
                self.smtp_port,
                self.smtp_from,
                self.smtp_security,
                self.smtp_username,
                self.smtp_password,
            )
        if self.telegram_bot_token is not None:
            out["telegram"] = telegram(self.telegram_bot_token)
        if self.whatsapp_token is not None and self.whatsapp_from:
            out["whatsapp"] = whatsapp(self.whatsapp_token, self.whatsapp_from)
        if self.sms_token is not None and self.sms_gateway_url:
            out["sms"] = sms(self.sms_gateway_url, self.sms_token)
        if mqtt_client is not None:
            out["mqtt"] = Mqtt(mqtt_client, mqtt5=mqtt5)
        return out


def default_worker() -> str:
    return f"alerts-{socket.gethostname()}-{os.getpid()}"[:100]


class Sending(SettingsGroup):
    """The sender's own options (``alerts send``; ``alerts run`` sends too)."""

    group: ClassVar[str] = "sender"

    mqtt_alerts: Literal["off", "on"] = Field(
        "off", description="publish alerts on jagajalan/v1/alerts/... (QoS 1)"
    )
    webhook_urls: str | None = Field(
        None,
        pattern=r"^https?://[^\s,]+(,https?://[^\s,]+)*$",
        description="webhooks that receive every step of every alert (signed with "
        "--webhook-secret), separated by commas",
    )
    metrics_port: int = Field(0, ge=0, le=65_535, description="Prometheus /metrics port, 0 = off")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "webhook_urls") and not given(values, "webhook_secret"):
            return [(("webhook_secret",), "webhooks are signed: give --webhook-secret-file")]
        return []

    def webhooks(self) -> list[str]:
        return self.webhook_urls.split(",") if self.webhook_urls else []


class DeliverySettings(ServiceSettings, Channels, Sending, RegistryLink, MqttLink):
    command: ClassVar[str] = "jagajalan alerts send"

    worker: ClientId | None = Field(None, description="this sender's name in attempts and leases")
    poll_s: float = Field(1.0, gt=0, le=60, description="seconds between passes when idle")
