"""What people read: an alert event turned into a subject and a text, in Bahasa Indonesia
(the default) or English, from the message catalogue (kernel/messages/alerts.toml), and into
the outbox's messages for the recipients, each with its idempotency key.

A message names the rule's title, the site and its road, the level with its label (the flood
ladder's labels of analytics/flood.py, the ISPU categories of analytics/ispu.py, LOS letters),
the value with its unit, the time in WIB and a link to the overview page
(``<base URL>/peta?site=<id>``). Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alerts.delivery.outbox import Outgoing
from alerts.rules.engine import NORMAL, Event
from analytics import flood, ispu
from kernel.text import Lang, tr
from kernel.times import wib_text

LOS_LETTERS = frozenset("ABCDEF")


@dataclass(frozen=True)
class Place:
    """Where an alert is, as the registry has it (``site`` None: a gateway with no site)."""

    site: str | None = None
    name: str | None = None
    road: str | None = None


@dataclass(frozen=True)
class Recipient:
    channel: str  # email | webhook | mqtt | telegram | whatsapp | sms
    address: str
    lang: Lang = "id"


@dataclass(frozen=True)
class Notice:
    """An event with what the text needs besides it."""

    event: Event
    title: Mapping[str, str]  # the rule's title per language; the rule id when missing
    place: Place = Place()
    unit: str | None = None
    kind: str | None = None  # the lifecycle's kind (reminder, escalated) over the event's


def level_label(key: str, lang: Lang) -> str:
    """A level key as people know it: the flood ladders' labels, the ISPU categories, LOS."""
    if key == NORMAL:
        return tr("alerts.level.normal", lang)
    if key in flood.KNOWN_LABELS:
        indonesian, english = flood.KNOWN_LABELS[key]
        return english if lang == "en" else indonesian
    for category in ispu.CATEGORIES:
        if category.key == key:
            return category.label(lang)
    if key in LOS_LETTERS:
        return tr("alerts.level.los", lang, letter=key)
    return key


def number(value: float, lang: Lang) -> str:
    """A reading for people: at most 2 decimals; a decimal comma in Bahasa Indonesia."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "id" else text


def value_text(value: float | str | None, unit: str | None, lang: Lang) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return level_label(value, lang)
    shown = number(float(value), lang)
    return f"{shown} {unit}" if unit else shown


def overview_link(base_url: str, site: str, lang: Lang) -> str:
    link = f"{base_url.rstrip('/')}/peta?site={site}"
    return link + "&lang=en" if lang == "en" else link


def subject(notice: Notice, lang: Lang) -> str:
    event = notice.event
    args: dict[str, Any] = {
        "severity": tr(f"alerts.severity.{event.severity}", lang),
        "title": notice.title.get(lang) or notice.title.get("id") or event.rule,
        "site": notice.place.name or event.gateway,
        "level": level_label(event.level, lang),
    }
    kind = notice.kind or event.kind
    if kind in ("resolved", "reminder", "escalated"):
        return tr(f"alerts.subject.{kind}", lang, **args)
    if kind == "changed":
        return tr("alerts.subject.up" if event.up else "alerts.subject.down", lang, **args)
    return tr("alerts.subject.raised", lang, **args)


def body(notice: Notice, lang: Lang, base_url: str | None) -> str:
    """The text: one line a fact, each a sentence in one language."""
    event, place = notice.event, notice.place
    lines = [subject(notice, lang)]
    if place.name:
        lines.append(tr("alerts.body.place", lang, site=place.name, road=place.road or "-"))
    if event.sensor:
        lines.append(tr("alerts.body.source", lang, sensor=event.sensor, gateway=event.gateway))
    else:
        lines.append(tr("alerts.body.gateway", lang, gateway=event.gateway))
    if event.kind == "resolved":
        lines.append(tr("alerts.body.resolved", lang))
    elif event.level != "raised":
        level = level_label(event.level, lang)
        if event.kind == "changed":
            previous = level_label(event.previous, lang)
            lines.append(tr("alerts.body.level_change", lang, level=level, previous=previous))
        else:
            lines.append(tr("alerts.body.level", lang, level=level))
    shown = value_text(event.value, notice.unit, lang)
    if shown is not None:
        lines.append(tr("alerts.body.value", lang, value=shown))
    lines.append(tr("alerts.body.time", lang, time=wib_text(event.time_s, "%d-%m-%Y %H:%M")))
    if base_url and place.site:
        lines.append(tr("alerts.body.link", lang, url=overview_link(base_url, place.site, lang)))
    return "\n".join(lines)


def event_data(notice: Notice) -> dict[str, Any]:
    """The event as the webhook and MQTT carry it (times UTC, epoch seconds and ISO 8601)."""
    event = notice.event
    return {
        "rule": event.rule,
        "gateway": event.gateway,
        "sensor": event.sensor or None,
        "site": notice.place.site,
        "kind": notice.kind or event.kind,
        "level": event.level,
        "previous": event.previous,
        "severity": event.severity,
        "value": event.value,
        "unit": notice.unit,
        "time": dt.datetime.fromtimestamp(event.time_s, dt.UTC).isoformat().replace("+00:00", "Z"),
    }


def key_of(event: Event, recipient: Recipient) -> str:
    """The idempotency key: the same event to the same recipient always gets the same key (an
    instance that evaluates the event again writes nothing new)."""
    address = hashlib.sha256(recipient.address.encode()).hexdigest()[:12]
    moment = round(event.time_s * 1000)
    return (
        f"{event.rule}/{event.gateway}/{event.sensor or '-'}/{event.kind}-{event.level}/"
        f"{moment}/{recipient.channel}-{address}"
    )


def messages(
    notice: Notice,
    recipients: Iterable[Recipient],
    base_url: str | None,
    key: Callable[[Recipient], str] | None = None,
    due: dt.datetime | None = None,
) -> list[Outgoing]:
    """The outbox's messages of *notice*, one per recipient, each in its language; *key*
    gives a recipient's idempotency key (default :func:`key_of`)."""
    data = event_data(notice)
    return [
        Outgoing(
            key=key(r) if key else key_of(notice.event, r),
            channel=r.channel,
            address=r.address,
            subject=subject(notice, r.lang),
            body=body(notice, r.lang, base_url),
            data=data,
            lang=r.lang,
            due=due,
        )
        for r in recipients
    ]
