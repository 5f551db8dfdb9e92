"""SMS through Apprise's SMSEagle plugin (``smseagle://``), the real plugin sending real HTTP
to a stand-in of the gateway on loopback (testkit/receivers.py ``SmsGateway``).

What is faked and why: the SMSEagle box itself (a hardware SMS gateway with a SIM card on the
office network) and the cellular network behind it cannot run here; the stand-in answers the
box's JSON-RPC API (``POST /jsonrpc/sms``, ``sms.send_sms``) as its documentation shows, and
keeps each SMS (number, text). Everything on our side is real: the registry's ``sms`` contact
channel (examples/registry.toml imported), the bridge that writes the outbox, the sender, the
channel and Apprise."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import apprise
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from alerts.delivery import chat
from alerts.delivery.bridge import OutboxDelivery
from alerts.delivery.channels import DeliveryError
from alerts.delivery.outbox import Claimed, attempts
from alerts.delivery.sender import Sender
from alerts.delivery.settings import Channels
from alerts.lifecycle.policy import Notification
from alerts.rules.config import AlertRules
from jagajalan.cli import main
from kernel.config import load_toml
from registry import db
from testkit import REPO
from testkit.receivers import SmsGateway

TOKEN = SecretStr("smseagle-0f9e8d7c6b5a4-token")
T = dt.datetime(2026, 1, 14, 2, 30, tzinfo=dt.UTC).timestamp()  # 09:30 WIB
TEXT = "Kritis: Genangan di Pasar Sarolangun naik ke Awas\nNilai terakhir: 35 cm"


def claimed(address: str) -> Claimed:
    return Claimed(1, "k/1", "sms", address, "Kritis: Genangan", TEXT, "{}", "id", 1)


def test_the_url_is_what_apprise_parses() -> None:
    plugin = apprise.Apprise.instantiate(
        chat.sms_url("http://10.0.5.9:8080", TOKEN, "+62 812-7400-1234")
    )
    assert plugin is not None and plugin.host == "10.0.5.9" and plugin.port == 8080
    assert plugin.token == TOKEN.get_secret_value() and plugin.target_phones == ["+6281274001234"]
    assert plugin.secure is False and plugin.priority == 1  # high: alerts go before the queue
    secure = apprise.Apprise.instantiate(
        chat.sms_url("https://sms.pu.local/", TOKEN, "+6281274001234")
    )
    assert secure is not None and secure.secure is True and secure.host == "sms.pu.local"


def test_an_sms_reaches_the_gateway_in_indonesian() -> None:
    box = SmsGateway(TOKEN.get_secret_value()).start()
    try:
        chat.sms(box.url, TOKEN).send(claimed("+6281200000102"))
    finally:
        box.stop()
    assert box.sent == [("+6281200000102", TEXT)]  # the text alone: no status prefix
    (call,) = box.requests
    assert call["params"]["highpriority"] == 1 and call["params"]["unicode"] == 1


def test_a_refusal_is_a_failure_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    box = SmsGateway("another-token").start()
    try:
        with pytest.raises(DeliveryError, match=r"^sms: not delivered"):
            chat.sms(box.url, TOKEN).send(claimed("+6281200000102"))
        box.token, box.failing = TOKEN.get_secret_value(), True  # the modem cannot send
        with pytest.raises(DeliveryError, match=r"^sms: not delivered"):
            chat.sms(box.url, TOKEN).send(claimed("+6281200000102"))
    finally:
        box.stop()
    with pytest.raises(DeliveryError, match=r"^sms: not delivered"):  # the gateway is down
        chat.sms(box.url, TOKEN).send(claimed("+6281200000102"))
    assert box.sent == [] and len(box.requests) == 2
    assert TOKEN.get_secret_value() not in caplog.text


def test_settings_need_both_the_address_and_the_token(tmp_path: Path) -> None:
    secret = tmp_path / "sms-token"
    secret.write_text(TOKEN.get_secret_value())
    group = Channels.model_validate({"sms_gateway_url": "http://10.0.5.9", "sms_token": TOKEN})
    assert sorted(group.channels()) == ["sms"]
    assert Channels.rules({"sms_token": TOKEN}) == [
        (("sms_gateway_url",), "SMS needs the gateway's address")
    ]
    assert [key for key, _ in Channels.rules({"sms_gateway_url": "http://10.0.5.9"})] == [
        ("sms_token",)
    ]


def test_a_contacts_sms_channel_from_the_registry_to_the_gateway(tmp_path: Path) -> None:
    """examples/registry.toml gives Pusdalops BPBD an ``sms`` number: a notification to that
    contact goes through the outbox to the gateway once, and is recorded as sent."""
    reg = tmp_path / "registry.sqlite3"
    assert main(["registry", "init", "--registry-db", str(reg)]) == 0
    example = str(REPO / "examples" / "registry.toml")
    assert main(["registry", "import", example, "--registry-db", str(reg)]) == 0
    engine = db.engine_for(f"sqlite+pysqlite:///{reg}")
    rules = load_toml(AlertRules, REPO / "examples" / "alerts.toml")
    alert = f"genangan/srl-tembesi-01/wl1@{int(T * 1000)}"
    note = Notification(
        alert,
        "pusdalops-bpbd",
        "raised",
        "critical",
        "awas",
        "normal",
        35.0,
        "genangan",
        "srl-tembesi-01",
        "wl1",
        T,
        T,
        f"{alert}#1:pusdalops-bpbd",
    )
    with Session(engine) as session, session.begin():
        OutboxDelivery(rules, "https://jagajalan.example.id")(session, [note])
    box = SmsGateway(TOKEN.get_secret_value()).start()
    try:
        channels = Channels.model_validate({"sms_gateway_url": box.url, "sms_token": TOKEN})
        sender = Sender(engine, channels.channels(), "alerts-test")
        while sender.run_once():
            pass
    finally:
        box.stop()
    ((number, text),) = box.sent
    assert number == "+6281200000102"
    assert "Awas" in text and "35 cm" in text and "WIB" in text, text
    assert "jagajalan.example.id/peta?site=" in text
    sms = [a for a in attempts(engine) if a.key.endswith("/sms")]
    assert [a.outcome for a in sms] == ["sent"]
    engine.dispose()
