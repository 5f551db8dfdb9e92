"""Telegram, WhatsApp and SMS through Apprise (``tgram://``, ``whatsapp://``, ``smseagle://``:
Apprise's Telegram Bot API, WhatsApp Cloud API and SMSEagle plugins).

SMS goes through an SMSEagle gateway: a box with a SIM card on the office network that sends
SMS over the cellular network, reached over HTTP(S) with an API access token (Apprise's
``smseagle://`` plugin; its JSON-RPC API ``/jsonrpc/sms``). Why this one of Apprise's SMS
plugins: it needs no internet and no account at a foreign SMS provider (a district office's
own SIM card, Telkomsel or Indosat), and the gateway's address is ours to give, so the tests
drive the real plugin against a loopback stand-in of the box (testkit/receivers.py).

Their servers cannot be reached from the tests' machine, so the tests check what is ours: the
URLs built from the address and the secrets (parsed back by Apprise itself), that Apprise is
called with that URL, the subject and the text, and that a refusal or an unreachable server
becomes a recorded failure whose text holds no token (Apprise's own log lines pass
:class:`Redacting`, which hides the tokens in them too: its WhatsApp plugin puts an invalid token
in a log line).

Duplicates: neither Telegram's Bot API, WhatsApp's Cloud API nor SMSEagle's API takes an
idempotency key, so a
sender killed after the message went out but before the outbox recorded it sends it again once
(the outbox's attempt without an outcome shows it). Apprise itself does not retry here: the
outbox does, with backoff, across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from alerts.delivery.channels import DeliveryError, redact
from alerts.delivery.outbox import Claimed


def telegram_url(bot_token: SecretStr, chat_id: str) -> str:
    """``tgram://<bot token>/<chat id>``: a chat id (-100..., a number) or a @channel name."""
    return f"tgram://{bot_token.get_secret_value()}/{quote(chat_id, safe='@-')}"


def whatsapp_url(token: SecretStr, from_phone_id: str, to: str) -> str:
    """``whatsapp://<access token>@<sender phone number id>/<recipient>``: the recipient as an
    international number (+62...), the sender as its Cloud API phone number id."""
    digits = "".join(c for c in to if c.isdigit())
    return f"whatsapp://{token.get_secret_value()}@{quote(from_phone_id, safe='')}/+{digits}"


def sms_url(gateway_url: str, token: SecretStr, to: str) -> str:
    """``smseagle[s]://<access token>@<host[:port]>/<+recipient>`` from the gateway's address
    (``http://host[:port]``, or ``https://`` for ``smseagles://``): the recipient as an
    international number (+62...). Sent at high priority, as plain text (no status prefix)."""
    scheme, _, rest = gateway_url.partition("://")
    host = rest.split("/", 1)[0]
    digits = "".join(c for c in to if c.isdigit())
    protocol = "smseagles" if scheme == "https" else "smseagle"
    return f"{protocol}://{token.get_secret_value()}@{host}/+{digits}?priority=high&status=no"


class Redacting(logging.Filter):
    """Hides *secrets* in the records of the logger it filters."""

    def __init__(self, secrets: list[SecretStr]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message, self.secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def _apprise() -> Any:
    import apprise

    return apprise.Apprise()


@dataclass
class AppriseChannel:
    """One Apprise service; ``url_of(address)`` builds the URL with the secrets. Without
    *titled* the subject is not sent apart: the text begins with it already, and a service
    without titles (SMS) would put it before the text, twice."""

    name: str
    url_of: Callable[[str], str]
    secrets: list[SecretStr]
    titled: bool = True
    factory: Callable[[], Any] = _apprise
    _filter: Redacting | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._filter = Redacting(self.secrets)
        logging.getLogger("apprise").addFilter(self._filter)

    def send(self, item: Claimed) -> None:
        notifier = self.factory()
        try:
            if not notifier.add(self.url_of(item.address)):
                raise DeliveryError(f"{self.name}: Apprise refused the address {item.address!r}")
            title = item.subject if self.titled else ""
            delivered = notifier.notify(body=item.body, title=title)
        except DeliveryError:
            raise
        except Exception as error:  # an Apprise plugin's own error: recorded, never a crash
            text = f"{self.name}: {type(error).__name__}: {error}"
            raise DeliveryError(redact(text, self.secrets)) from None
        if not delivered:
            raise DeliveryError(
                f"{self.name}: not delivered (the server refused it or could not be reached)"
            )


def telegram(bot_token: SecretStr, **kwargs: Any) -> AppriseChannel:
    return AppriseChannel(
        "telegram", lambda chat: telegram_url(bot_token, chat), [bot_token], **kwargs
    )


def sms(gateway_url: str, token: SecretStr, **kwargs: Any) -> AppriseChannel:
    def url_of(to: str) -> str:
        return sms_url(gateway_url, token, to)

    return AppriseChannel("sms", url_of, [token], titled=False, **kwargs)


def whatsapp(token: SecretStr, from_phone_id: str, **kwargs: Any) -> AppriseChannel:
    return AppriseChannel(
        "whatsapp", lambda to: whatsapp_url(token, from_phone_id, to), [token], **kwargs
    )
