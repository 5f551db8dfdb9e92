"""The registry's tables as typed SQLAlchemy 2 models.

Ids are the names people and the telemetry use: a gateway's id is its MQTT id
(:data:`telemetry.models.GatewayId`: the import refuses reserved ones), a sensor's id is the
device id in its gateway's config (``env1``, ``cnt1``), unique per gateway. A site has one
flood ladder: ``road_depth`` (water on the road, cm: waspada / siaga / awas) or
``river_gauge`` (a river gauge, m: Siaga III / II / I), stored as its kind and three rising
thresholds (analytics/flood.py builds the ladders from them).

API keys (issue 11, section 2) are stored hashed only, with a role; they are not part of the
registry file (secrets are never exported).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from registry.roles import ROLES  # noqa: F401  (re-exported: registry.models.ROLES)

#: Constraint names fixed by convention, so migrations name them the same on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROAD_TYPES = (
    "arteri_primer",
    "kolektor_primer",
    "lokal_primer",
    "arteri_sekunder",
    "kolektor_sekunder",
    "lokal_sekunder",
    "lingkungan",
)
LADDERS = ("road_depth", "river_gauge")
CHANNELS = ("telegram", "whatsapp", "sms", "email")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    road: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(200))
    kecamatan: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    road_type: Mapped[str | None] = mapped_column(String(32))
    capacity_smp_per_hour: Mapped[float | None] = mapped_column(Float)
    flood_ladder: Mapped[str | None] = mapped_column(String(16))
    flood_1: Mapped[float | None] = mapped_column(Float)
    flood_2: Mapped[float | None] = mapped_column(Float)
    flood_3: Mapped[float | None] = mapped_column(Float)

    gateways: Mapped[list[Gateway]] = relationship(back_populates="site")


class Gateway(Base):
    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)

    site: Mapped[Site | None] = relationship(back_populates="gateways")
    sensors: Mapped[list[Sensor]] = relationship(back_populates="gateway")


class Sensor(Base):
    __tablename__ = "sensors"

    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64))
    calibration: Mapped[str | None] = mapped_column(Text)
    installed_by: Mapped[str | None] = mapped_column(String(200))
    installed_on: Mapped[dt.date | None] = mapped_column(Date)

    gateway: Mapped[Gateway] = relationship(back_populates="sensors")


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2))


class ContactChannel(Base):
    """One way to reach a contact: telegram (chat id or @name), whatsapp (+62...), sms
    (+62...), email."""

    __tablename__ = "contact_channels"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(200))


class ApiKey(Base):
    """An API key: only its hash is stored (and a short prefix, to find it and show it)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AlertRow(Base):
    """One alert from raised to resolved (alerts/lifecycle/policy.py's ``Alert``); the
    acknowledgement is written here by the API or the CLI and read by the alerts service."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    gateway: Mapped[str] = mapped_column(String(64), index=True)
    sensor: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    step: Mapped[int] = mapped_column(Integer)
    last_told: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int] = mapped_column(Integer)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class SilenceRow(Base):
    """Notifications of matching alerts held back until ``until`` (unset matchers: all)."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LeaseRow(Base):
    """Which instance of a service acts (alerts/lease.py): held until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


#: A notification's states: ``pending`` (to send, or to retry at ``due_at``), ``sent``,
#: ``failed`` (gave up after the configured number of attempts; kept, visible, never deleted).
OUTBOX_STATES = ("pending", "sent", "failed")
#: The channels a notification can go out on (alerts/delivery/channels.py).
OUTBOX_CHANNELS = ("email", "webhook", "mqtt", "telegram", "whatsapp", "sms")


class OutboxMessage(Base):
    """One message to send (a recipient on one channel), written before anything is sent
    (alerts/delivery/outbox.py); ``key`` is its idempotency key, unique."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(500))
    lang: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)  # the event as JSON (webhook and MQTT payload)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(8), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxAttempt(Base):
    """One try of a message, written when the try starts (``outcome`` NULL) and completed
    after it: a row left NULL is a sender that died in the middle of sending."""

    __tablename__ = "alert_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("alert_outbox.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(8))  # sent | failed | NULL: unknown
    error: Mapped[str | None] = mapped_column(Text)


#: The tables of the registry file, in the order rows are added (deleted: the reverse).
FILE_TABLES: tuple[type[Base], ...] = (Site, Gateway, Sensor, Contact, ContactChannel)


class DesiredVersion(Base):
    """The gateway release a group of gateways should run (issue 14, section 6): written by
    ``jagajalan firmware rollout`` when it commands the group. A group is a kecamatan or
    ``pilot``; its members are kept (:class:`DesiredMember`) because a pilot group is named
    per rollout and a kecamatan's gateways change."""

    __tablename__ = "desired_versions"

    group_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    counter: Mapped[int] = mapped_column(Integer)
    rollout: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DesiredMember(Base):
    """A gateway's group for its desired version: one group per gateway, the latest that
    commanded it (no foreign key to gateways: pruning a gateway from the registry must not
    fail on an old rollout's record)."""

    __tablename__ = "desired_version_gateways"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(
        ForeignKey("desired_versions.group_name", ondelete="CASCADE"), index=True
    )


class DesiredFirmware(Base):
    """The firmware the sensor nodes of one profile (``sensors.profile``: a Modbus register
    map or a device kind) should run, set with ``jagajalan registry firmware set``; the API
    lists the nodes whose reported firmware differs (``GET /releases``). No foreign key: a
    profile is a name in the gateways' configs, not a registry row."""

    __tablename__ = "desired_firmware"

    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
