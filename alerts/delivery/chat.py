"""Telegram and WhatsApp through Apprise (``tgram://``, ``whatsapp://``: Apprise's Telegram Bot
API and WhatsApp Cloud API plugins).

Their servers cannot be reached from the tests' machine, so the tests check what is ours: the
URLs built from the address and the secrets (parsed back by Apprise itself), that Apprise is
called with that URL, the subject and the text, and that a refusal or an unreachable server
becomes a recorded failure whose text holds no token (Apprise's own log lines pass
:class:`Redacting`, which hides the tokens in them too: its WhatsApp plugin puts an invalid token
in a log line).

Duplicates: neither Telegram's Bot API nor WhatsApp's Cloud API takes an idempotency key, so a
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
    """One Apprise service; ``url_of(address)`` builds the URL with the secrets."""

    name: str
    url_of: Callable[[str], str]
    secrets: list[SecretStr]
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
            delivered = notifier.notify(body=item.body, title=item.subject)
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


def whatsapp(token: SecretStr, from_phone_id: str, **kwargs: Any) -> AppriseChannel:
    return AppriseChannel(
        "whatsapp", lambda to: whatsapp_url(token, from_phone_id, to), [token], **kwargs
    )
