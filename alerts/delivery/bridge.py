"""From the alerts' lifecycle to the outbox: ``OutboxDelivery`` is the *deliver* of
:class:`alerts.evaluator.Evaluator` — called with the session that saves the alerts' new
state, it writes the notifications' messages in the same transaction (both or neither).

For each lifecycle notification (one per contact): a message per channel of the contact in the
registry (``contact_channels``: telegram, whatsapp, sms, email), in the contact's language, keyed
``<notification key>/<channel>``, due when the lifecycle says (quiet hours). The system
channels (the configured webhooks and the MQTT alert topic) get each step of an alert once,
whatever the number of contacts (raised, changed, resolved; not the reminders and escalations,
which are for people), keyed without the contact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.delivery import outbox
from alerts.delivery.compose import Notice, Place, Recipient, messages
from alerts.delivery.outbox import Outgoing
from alerts.lifecycle.policy import Notification
from alerts.rules.config import AlertRules, LadderRule
from alerts.rules.engine import Event
from analytics import flood
from registry.models import Contact, ContactChannel, Gateway, Site
from telemetry.units import FIELDS

#: Units as people read them.
SHOWN_UNITS = {"ug/m3": "µg/m³", "degC": "°C", "%RH": "%", "1": ""}
SYSTEM_KINDS = ("raised", "changed", "resolved")


def unit_of(field_name: str | None) -> str | None:
    spec = FIELDS.get(field_name or "")
    if spec is None:
        return None
    return SHOWN_UNITS.get(spec.unit, spec.unit) or None


@dataclass
class OutboxDelivery:
    rules: AlertRules
    base_url: str | None = None
    webhooks: Sequence[str] = ()
    mqtt_topic: bool = False
    clock: dt.datetime | None = None  # tests: the time rows are written at
    _titles: Mapping[str, Mapping[str, str]] = field(default_factory=dict, init=False)
    _units: Mapping[str, str | None] = field(default_factory=dict, init=False)
    _orders: Mapping[str, list[str]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._titles = {r.id: r.title for r in self.rules.rules}
        self._units = {r.id: unit_of(getattr(r, "field", None)) for r in self.rules.rules}
        self._orders = {r.id: _order(r) for r in self.rules.rules}

    def __call__(self, session: Session, notes: Sequence[Notification]) -> None:
        now = self.clock or dt.datetime.now(dt.UTC)
        for note in notes:
            notice = Notice(
                Event(
                    note.rule,
                    note.gateway,
                    note.sensor,
                    note.kind if note.kind in SYSTEM_KINDS else "raised",  # type: ignore[arg-type]
                    note.level,
                    note.previous,
                    note.kind != "changed" or _up(self._orders.get(note.rule, []), note),
                    note.severity,
                    note.time_s,
                    note.value,
                ),
                self._titles.get(note.rule, {}),
                place_of(session, note.gateway),
                self._units.get(note.rule),
                note.kind,
            )
            outbox.write(session, self._messages(session, note, notice), now)

    def _messages(self, session: Session, note: Notification, notice: Notice) -> list[Outgoing]:
        due = dt.datetime.fromtimestamp(note.due_s, dt.UTC)
        people = recipients_of(session, note.contact)
        out = messages(notice, people, self.base_url, lambda r: f"{note.key}/{r.channel}", due)
        if note.kind in SYSTEM_KINDS:
            step = note.key.rpartition(f":{note.contact}")[0] or note.key
            systems = [Recipient("webhook", url) for url in self.webhooks]
            if self.mqtt_topic:
                systems.append(Recipient("mqtt", f"{note.gateway}/{note.rule}"))
            out += messages(notice, systems, self.base_url, lambda r: _system_key(step, r))
        return out


def _order(rule: object) -> list[str]:
    """A ladder rule's levels, rising (a site's flood ladder: the known ladders' keys)."""
    if isinstance(rule, LadderRule):
        if rule.levels:
            return [k for k, _ in sorted(rule.levels.items(), key=lambda kv: kv[1])]
        if rule.categories:
            return list(rule.categories)
    return list(flood.KNOWN_LABELS)


def _up(levels: list[str], note: Notification) -> bool:
    def rank(level: str) -> int:
        return levels.index(level) + 1 if level in levels else 0  # normal and unknown: 0

    return rank(note.level) > rank(note.previous)


def _system_key(step: str, recipient: Recipient) -> str:
    address = hashlib.sha256(recipient.address.encode()).hexdigest()[:12]
    return f"{step}/{recipient.channel}-{address}"


def place_of(session: Session, gateway: str) -> Place:
    row = session.execute(
        select(Site.id, Site.name, Site.road)
        .join(Gateway, Gateway.site_id == Site.id)
        .where(Gateway.id == gateway)
    ).first()
    return Place(*row) if row else Place()


def recipients_of(session: Session, contact: str) -> list[Recipient]:
    language = session.scalar(select(Contact.language).where(Contact.id == contact))
    lang = "en" if language == "en" else "id"
    rows = session.scalars(
        select(ContactChannel)
        .where(ContactChannel.contact_id == contact)
        .order_by(ContactChannel.kind)
    ).all()
    return [Recipient(r.kind, r.address, lang) for r in rows]
