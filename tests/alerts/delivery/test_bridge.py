"""From the lifecycle's notifications to the outbox, in the caller's transaction: a message per
channel of each contact in the contact's language, due when the lifecycle says (quiet hours);
the webhooks and the MQTT topic once per step whatever the number of contacts; the same
notification again writes nothing; a rolled-back transaction leaves no message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alerts.delivery import outbox
from alerts.delivery.bridge import OutboxDelivery
from alerts.lifecycle.policy import Notification
from alerts.rules.config import AlertRules
from kernel.config import load_toml
from registry.models import Contact, ContactChannel, Gateway, Site
from registry.models import OutboxMessage as Row
from testkit import REPO

T = dt.datetime(2026, 1, 14, 2, 30, tzinfo=dt.UTC).timestamp()
RULES = load_toml(AlertRules, REPO / "examples" / "alerts.toml")


def registry(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            Site(
                id="pasar",
                name="Pasar Sarolangun",
                road="Jalan Lintas Sumatera",
                kecamatan="Sarolangun",
                latitude=-2.3,
                longitude=102.7,
            )
        )
        session.flush()
        session.add(Gateway(id="srl-pasar-01", site_id="pasar"))
        session.add(Contact(id="ops", name="Operator", role="operator", language="id"))
        session.add(Contact(id="eng", name="Engineer", role="engineer", language="en"))
        session.flush()
        session.add(ContactChannel(contact_id="ops", kind="telegram", address="-1001234567890"))
        session.add(ContactChannel(contact_id="ops", kind="email", address="ops@pu.go.id"))
        session.add(ContactChannel(contact_id="eng", kind="email", address="eng@pu.go.id"))


def note(contact: str, kind: str = "changed", due_s: float = T) -> Notification:
    return Notification(
        alert=f"genangan/srl-pasar-01/lvl1@{int(T * 1000)}",
        contact=contact,
        kind=kind,  # type: ignore[arg-type]
        severity="critical",
        level="bahaya_motor",
        previous="hati_hati",
        value=24.5,
        rule="genangan",
        gateway="srl-pasar-01",
        sensor="lvl1",
        time_s=T,
        due_s=due_s,
        key=f"genangan/srl-pasar-01/lvl1@{int(T * 1000)}#2:{contact}",
    )


def rows(engine: Engine) -> list[Row]:
    with Session(engine) as session:
        return list(session.query(Row).order_by(Row.key))


def test_one_message_per_contact_channel_and_one_per_system(engine: Engine) -> None:
    registry(engine)
    deliver = OutboxDelivery(RULES, "https://peta.example.id", ["http://127.0.0.1:9/hook"], True)
    quiet_end = T + 3600
    with Session(engine) as session, session.begin():
        deliver(session, [note("ops"), note("eng", due_s=quiet_end)])
    got = {(r.channel, r.address): r for r in rows(engine)}
    assert sorted(got) == [
        ("email", "eng@pu.go.id"),
        ("email", "ops@pu.go.id"),
        ("mqtt", "srl-pasar-01/genangan"),
        ("telegram", "-1001234567890"),
        ("webhook", "http://127.0.0.1:9/hook"),
    ]
    telegram = got[("telegram", "-1001234567890")]
    assert telegram.key == note("ops").key + "/telegram" and telegram.lang == "id"
    assert "naik ke Bahaya bagi sepeda motor" in telegram.subject
    assert "Nilai terakhir: 24,5 cm" in telegram.body and "peta?site=pasar" in telegram.body
    english = got[("email", "eng@pu.go.id")]
    assert english.lang == "en" and "rose to Dangerous for motorcycles" in english.subject
    assert outbox.utc(english.due_at) == dt.datetime.fromtimestamp(quiet_end, dt.UTC)
    # the same notifications again (an instance that took over): nothing new
    with Session(engine) as session, session.begin():
        deliver(session, [note("ops"), note("eng")])
    assert len(rows(engine)) == 5


def test_reminders_go_to_people_only_and_a_rollback_writes_nothing(engine: Engine) -> None:
    registry(engine)
    deliver = OutboxDelivery(RULES, None, ["http://127.0.0.1:9/hook"])
    with Session(engine) as session, session.begin():
        deliver(session, [note("ops", "reminder")])
    assert sorted(r.channel for r in rows(engine)) == ["email", "telegram"]
    assert rows(engine)[0].subject.startswith("Pengingat: ")
    session = Session(engine)
    session.begin()
    deliver(session, [note("eng", "resolved")])
    session.rollback()
    session.close()
    assert len(rows(engine)) == 2
