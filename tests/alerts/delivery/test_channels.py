"""Each channel against a real receiver on loopback: the webhook's signature checked (a wrong
one refused), the Indonesian e-mail in a real SMTP server, the MQTT alert topic on the real
Mosquitto with the key as a user property; Telegram and WhatsApp as far as this machine can
reach them (no internet): the URLs Apprise parses, what Apprise is called with, failures
recorded without the token."""

from __future__ import annotations

import json
import logging
import re
import threading
from email.header import decode_header, make_header
from typing import Any, ClassVar

import apprise
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from alerts.delivery import channels, chat, signing
from alerts.delivery.channels import DeliveryError, Email, Mqtt, Webhook
from alerts.delivery.outbox import Claimed
from kernel.mqtt import new_client
from testkit import REPO
from testkit.receivers import Mailbox, WebhookReceiver, wait_for
from testkit.services import Mosquitto

SECRET = SecretStr("whsec-7f3a9c1e55d04b2e8a61")
TOKEN = SecretStr("123456789:AAHk3xQy-Secr3tBotToken_zzZ")
WA_TOKEN = SecretStr("EAAGm0PX4ZCpsBAPrivateWhatsAppToken")
TEXT = (
    "Kritis: Genangan di jalan di Pasar Sarolangun naik ke Bahaya bagi sepeda motor\n"
    "Nilai terakhir: 24,5 cm"
)


def claimed(
    address: str, key: str = "banjir/srl-pasar-01/lvl1/changed-bahaya_motor/1/x"
) -> Claimed:
    data = json.dumps({"rule": "banjir", "level": "bahaya_motor", "value": 24.5})
    return Claimed(1, key, "webhook", address, "Kritis: Genangan di Pasar", TEXT, data, "id", 1)


def test_the_webhook_is_signed_and_a_wrong_secret_is_refused() -> None:
    receiver = WebhookReceiver(SECRET.get_secret_value().encode()).start()
    try:
        Webhook(SECRET).send(claimed(receiver.url))
        ((key, body),) = receiver.accepted.items()
        assert key == claimed("").key
        sent = json.loads(body)
        assert sent["text"] == TEXT and sent["key"] == key and sent["event"]["value"] == 24.5
        with pytest.raises(DeliveryError, match="HTTP 401"):
            Webhook(SecretStr("not-the-shared-secret")).send(claimed(receiver.url, "other"))
        assert receiver.rejected == 1 and list(receiver.accepted) == [key]
    finally:
        receiver.stop()


def test_the_signature_recipe() -> None:
    """docs/alerts.md's recipe, step by step: HMAC-SHA256 over '<timestamp>.<body>'."""
    import hashlib
    import hmac

    body, stamp = b'{"key":"k"}', 1767000000
    expected = hmac.new(b"s3cret", b"1767000000." + body, hashlib.sha256).hexdigest()
    assert signing.sign(b"s3cret", stamp, body) == "sha256=" + expected
    assert signing.verify(b"s3cret", str(stamp), body, "sha256=" + expected, stamp + 10)
    assert not signing.verify(b"s3cret", str(stamp), body + b" ", "sha256=" + expected, stamp)
    assert not signing.verify(b"s3cret", str(stamp), body, "sha256=" + expected, stamp + 301)


def test_an_unreachable_webhook_is_a_failure_without_the_secret() -> None:
    receiver = WebhookReceiver(b"x")  # never started: nothing listens on its port
    with pytest.raises(DeliveryError) as failure:
        Webhook(SECRET, timeout_s=2).send(claimed(receiver.url))
    assert "ConnectError" in str(failure.value)
    assert SECRET.get_secret_value() not in str(failure.value)


def test_email_reaches_a_real_smtp_server_in_indonesian() -> None:
    box = Mailbox(users={"alerts": "smtp-Pa55word-9931"}).start()
    try:
        email = Email(
            "127.0.0.1",
            box.port,
            "JagaJalan <alerts@pu.sarolangun.go.id>",
            "none",
            "alerts",
            SecretStr("smtp-Pa55word-9931"),
        )
        item = claimed("operator@pu.sarolangun.go.id")
        email.send(item)
        email.send(item)  # a retry of the same key: the same Message-ID
        first, second = box.messages
        assert box.logins == ["alerts", "alerts"]
        assert str(make_header(decode_header(first["Subject"]))) == "Kritis: Genangan di Pasar"
        assert first.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n").strip() == TEXT
        assert first[signing.IDEMPOTENCY_KEY] == item.key
        assert (
            first["Message-ID"]
            == second["Message-ID"]
            == channels.message_id(item.key, "jagajalan.alerts")
        )
        assert first["To"] == "operator@pu.sarolangun.go.id"
        wrong = Email("127.0.0.1", box.port, "a@b.id", "none", "alerts", SecretStr("wrong-pass"))
        with pytest.raises(DeliveryError, match="SMTPAuthenticationError") as failure:
            wrong.send(item)
        assert "wrong-pass" not in str(failure.value)
    finally:
        box.stop()


def test_mqtt_alert_topic_qos1_with_the_key(broker: Mosquitto) -> None:
    got: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_message = lambda _c, _u, m: got.append(m)
    listener.on_connect = lambda c, *_: c.subscribe("jagajalan/v1/alerts/#", qos=1)
    listener.connect("127.0.0.1", broker.port)
    listener.loop_start()
    client = new_client("jagajalan-alerts-test")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        Mqtt(client).send(claimed("srl-pasar-01/banjir"))
        (message,) = wait_for(lambda: list(got), 10, "the alert on the topic")
        assert message.topic == "jagajalan/v1/alerts/srl-pasar-01/banjir" and message.qos == 1
        assert ("idempotency-key", claimed("").key) in message.properties.UserProperty
        assert json.loads(message.payload)["text"] == TEXT
    finally:
        for c in (client, listener):
            c.loop_stop()
            c.disconnect()


def test_telegram_and_whatsapp_urls_are_what_apprise_parses() -> None:
    tg = apprise.Apprise.instantiate(chat.telegram_url(TOKEN, "-1001234567890"))
    assert tg is not None and tg.bot_token == TOKEN.get_secret_value()
    assert [str(t[0]) for t in tg.targets] == ["-1001234567890"]
    wa = apprise.Apprise.instantiate(
        chat.whatsapp_url(WA_TOKEN, "104276999000111", "+62 812-7400-1234")
    )
    assert wa is not None and wa.token == WA_TOKEN.get_secret_value()
    assert wa.from_phone_id == "104276999000111" and wa.targets == ["+6281274001234"]


class FakeApprise:
    calls: ClassVar[list[tuple[str, str, str]]] = []

    def __init__(self, result: bool = True) -> None:
        self.url = ""
        self.result = result

    def add(self, url: str) -> bool:
        self.url = url
        return True

    def notify(self, body: str, title: str) -> bool:
        FakeApprise.calls.append((self.url, title, body))
        return self.result


def test_apprise_is_called_with_the_url_subject_and_text() -> None:
    FakeApprise.calls = []
    chat.telegram(TOKEN, factory=FakeApprise).send(claimed("-1001234567890"))
    chat.whatsapp(WA_TOKEN, "104276999000111", factory=FakeApprise).send(claimed("+6281274001234"))
    assert FakeApprise.calls == [
        (chat.telegram_url(TOKEN, "-1001234567890"), "Kritis: Genangan di Pasar", TEXT),
        (
            chat.whatsapp_url(WA_TOKEN, "104276999000111", "+6281274001234"),
            "Kritis: Genangan di Pasar",
            TEXT,
        ),
    ]
    with pytest.raises(DeliveryError, match="not delivered"):
        chat.telegram(TOKEN, factory=lambda: FakeApprise(False)).send(claimed("-100"))


def test_real_apprise_unreachable_is_recorded_without_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The real plugins, their HTTPS requests sent to a proxy where nothing listens."""
    dead = WebhookReceiver(b"x")  # a free port, never started
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead.port}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead.port}")
    caplog.set_level(logging.DEBUG)
    for channel, address in (
        (chat.telegram(TOKEN), "-1001234567890"),
        (chat.whatsapp(WA_TOKEN, "104276999000111"), "+6281274001234"),
        (chat.whatsapp(SecretStr("bad token!"), "104276999000111"), "+6281274001234"),
    ):
        with pytest.raises(DeliveryError) as failure:
            channel.send(claimed(address))
        assert channel.name in str(failure.value)
    logged = caplog.text
    assert "WhatsApp Access Token ((hidden))" in logged  # Apprise logged it, redacted
    for secret in (TOKEN, WA_TOKEN, SecretStr("bad token!")):
        assert secret.get_secret_value() not in logged


def test_the_docs_recipe_verifies_a_real_request() -> None:
    """docs/alerts.md's Python recipe, run as written, accepts the headers and body Webhook
    really sent, and refuses them under another secret or with the body changed."""
    doc = (REPO / "docs" / "alerts.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    scope: dict[str, Any] = {}
    exec(code, scope)
    verify = scope["verify"]
    receiver = WebhookReceiver(SECRET.get_secret_value().encode()).start()
    try:
        Webhook(SECRET).send(claimed(receiver.url))
    finally:
        receiver.stop()
    ((key, body),) = receiver.accepted.items()
    headers = receiver.headers[key]
    secret = SECRET.get_secret_value().encode()
    assert verify(secret, headers, body)
    assert not verify(b"another-secret", headers, body)
    assert not verify(secret, headers, body + b" ")
