"""The registry as a file: one TOML document, its pydantic model, and its rows.

::

    [[sites]]                    # id, name, road, segment, kecamatan, latitude, longitude,
    id = "pasar-sarolangun"      # road_type, capacity_smp_per_hour, [sites.flood]
    [sites.flood]
    ladder = "road_depth"        # waspada_cm / siaga_cm / awas_cm, or
    waspada_cm = 10              # ladder = "river_gauge": siaga_3_m / siaga_2_m / siaga_1_m
    [[gateways]]                 # id (an MQTT gateway id, not a reserved one), site, notes
    [[sensors]]                  # gateway, id, device, profile, calibration, installed_by,
                                 # installed_on
    [[contacts]]                 # id, name, role, language, telegram, whatsapp, sms, email

Validated with :func:`kernel.config.load_toml` (every problem at once, naming the file, the key
such as ``sensors[3].gateway``, the value and what is allowed); references between tables
(a gateway's site, a sensor's gateway) and duplicate ids are checked by :func:`check`.
:func:`to_rows` and :func:`from_rows` turn a document into table rows and back; :func:`dumps`
writes it as TOML. Pure: no database, no files (the caller reads and writes them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from kernel.config import ConfigError
from kernel.schema import Allowed
from kernel.text import TextError
from registry.models import ROAD_TYPES, Contact, ContactChannel, Gateway, Sensor, Site
from telemetry.models import Id
from telemetry.topics import RESERVED_ID_PREFIXES, RESERVED_IDS, reserved_id

#: The kecamatan of Kabupaten Sarolangun (../shared/DOMAIN.md).
KECAMATAN = (
    "Sarolangun",
    "Pauh",
    "Mandiangin",
    "Air Hitam",
    "Pelawan",
    "Singkut",
    "Bathin VIII",
    "Limun",
    "Cermin Nan Gedang",
    "Batang Asai",
)
#: The gateway's device types (gateway/devices DRIVERS; a test keeps them the same).
DEVICES = ("modbus", "traffic_counter", "weather_ascii", "nmea_gps")

Slug = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$"),
    Allowed("1 to 64 lower-case letters, digits or '-', e.g. pasar-sarolangun"),
]
Label = Annotated[str, Field(min_length=1, max_length=200)]


def _not_reserved(value: str) -> str:
    if reserved_id(value):
        names = ", ".join(sorted(RESERVED_IDS))
        prefixes = ", ".join(f"{p}*" for p in RESERVED_ID_PREFIXES)
        raise TextError("registry.err.reserved_id", names=names, prefixes=prefixes)
    return value


#: The telemetry's gateway id rule (telemetry.topics), its refusal in the user's language.
GatewayId = Annotated[
    Id,
    AfterValidator(_not_reserved),
    Allowed("a gateway id: lower-case letters, digits and '-', not a reserved one"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _above(previous: str) -> classmethod:  # type: ignore[type-arg]
    """A validator: this threshold must be above the one of the level before it."""

    def check(cls: type, value: float, info: ValidationInfo) -> float:
        below = info.data.get(previous)
        if below is not None and value <= below:
            raise TextError("registry.err.rising")
        return value

    return classmethod(check)


class RoadDepth(Strict):
    """Water on the road, in cm: waspada, siaga, awas (project defaults 10, 20, 30)."""

    ladder: Literal["road_depth"] = Field(description="the kind of ladder")
    waspada_cm: float = Field(gt=0, le=500, description="waspada from this depth of water, cm")
    siaga_cm: float = Field(gt=0, le=500, description="siaga from this depth, cm")
    awas_cm: float = Field(gt=0, le=500, description="awas from this depth, cm")

    _siaga = field_validator("siaga_cm")(_above("waspada_cm"))
    _awas = field_validator("awas_cm")(_above("siaga_cm"))


class RiverGauge(Strict):
    """A river gauge's levels in m, as Dinas PU and BPBD name them: Siaga III, II, I."""

    ladder: Literal["river_gauge"] = Field(description="the kind of ladder")
    siaga_3_m: float = Field(ge=-100, le=1000, description="Siaga III (waspada) from this level, m")
    siaga_2_m: float = Field(ge=-100, le=1000, description="Siaga II (kritis) from this level, m")
    siaga_1_m: float = Field(ge=-100, le=1000, description="Siaga I (bencana) from this level, m")

    _siaga_2 = field_validator("siaga_2_m")(_above("siaga_3_m"))
    _siaga_1 = field_validator("siaga_1_m")(_above("siaga_2_m"))


def _ladder_tag(value: Any) -> str | None:
    name = value.get("ladder") if isinstance(value, dict) else getattr(value, "ladder", None)
    return f"ladder[{name}]" if isinstance(name, str) else None


# The tags contain "[" so that kernel.config.validate drops them from error locations.
Flood = Annotated[
    Annotated[RoadDepth, Tag("ladder[road_depth]")]
    | Annotated[RiverGauge, Tag("ladder[river_gauge]")],
    Discriminator(
        _ladder_tag,
        custom_error_type="unknown_ladder",
        custom_error_message="ladder must be road_depth (cm) or river_gauge (m)",
    ),
]


class SiteDoc(Strict):
    """A place on a road where sensors are: one table per site."""

    id: Slug = Field(description="the site's id")
    name: Label = Field(description="the name people know it by")
    road: Label = Field(description="the road, e.g. Jl. Lintas Sumatera")
    segment: Label | None = Field(None, description="the segment of the road")
    kecamatan: Literal[KECAMATAN] = Field(description="the kecamatan")  # type: ignore[valid-type]
    latitude: float = Field(ge=-90, le=90, description="degrees, WGS 84 (south: negative)")
    longitude: float = Field(ge=-180, le=180, description="degrees, WGS 84")
    road_type: Literal[ROAD_TYPES] | None = Field(  # type: ignore[valid-type]
        None, description="the road's function and system (PM 96/2015)"
    )
    capacity_smp_per_hour: float | None = Field(
        None, gt=0, le=20_000, description="capacity of the segment, smp/jam, both directions"
    )
    flood: Flood | None = Field(
        None, description="the flood ladder: a table with ladder = road_depth or river_gauge"
    )


class GatewayDoc(Strict):
    """A roadside gateway: one table per gateway."""

    id: GatewayId = Field(description="the gateway's MQTT id, e.g. srl-pasar-01")
    site: Slug | None = Field(None, description="the id of its site")
    notes: str | None = Field(None, description="notes for the technicians")


class SensorDoc(Strict):
    """A sensor on a gateway: one table per sensor."""

    gateway: GatewayId = Field(description="the id of its gateway")
    id: Id = Field(description="its device id in the gateway's config, e.g. env1")
    device: Literal[DEVICES] = Field(description="the device type (the gateway's driver)")  # type: ignore[valid-type]
    profile: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="a Modbus profile's name"
    )
    calibration: str | None = Field(None, description="calibration notes")
    installed_by: Label | None = Field(None, description="who installed it")
    installed_on: dt.date | None = Field(None, description="when, e.g. 2026-03-02")


class ContactDoc(Strict):
    """A person or desk that alerts will reach: one table per contact."""

    id: Slug = Field(description="the contact's id")
    name: Label = Field(description="a person's or a desk's name")
    role: Label = Field(description="e.g. operator, teknisi")
    language: Literal["id", "en"] = Field("id", description="the language of their messages")
    telegram: str | None = Field(
        None,
        pattern=r"^(@[A-Za-z0-9_]{5,32}|-?[0-9]{1,20})$",
        description="a Telegram @name or chat id",
    )
    whatsapp: str | None = Field(
        None, pattern=r"^\+[0-9]{8,15}$", description="a WhatsApp number, e.g. +62812..."
    )
    sms: str | None = Field(
        None, pattern=r"^\+[0-9]{8,15}$", description="a mobile number for SMS, e.g. +62812..."
    )
    email: str | None = Field(
        None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="an e-mail address"
    )


class RegistryDoc(Strict):
    """The whole registry."""

    sites: list[SiteDoc] = []
    gateways: list[GatewayDoc] = []
    sensors: list[SensorDoc] = []
    contacts: list[ContactDoc] = []


def dotted(table: str, index: int, key: str) -> str:
    """How a key is named in a problem: ``sensors[3].gateway``."""
    return f"{table}[{index}].{key}"


def check(doc: RegistryDoc, path: str, where: Callable[[str, int, str], str] = dotted) -> None:
    """Duplicate ids and references to what the document does not hold: ConfigError, each key
    named by *where* (table, index, key)."""
    problems: list[tuple[str, Any, TextError]] = []

    def unique(table: str, keys: list[Any]) -> None:
        seen: set[Any] = set()
        for i, key in enumerate(keys):
            if key in seen:
                shown = "/".join(key) if isinstance(key, tuple) else key
                error = TextError("registry.err.duplicate")
                problems.append((where(table, i, "id"), shown, error))
            seen.add(key)

    unique("sites", [s.id for s in doc.sites])
    unique("gateways", [g.id for g in doc.gateways])
    unique("sensors", [(s.gateway, s.id) for s in doc.sensors])
    unique("contacts", [c.id for c in doc.contacts])
    sites, gateways = {s.id for s in doc.sites}, {g.id for g in doc.gateways}
    for i, g in enumerate(doc.gateways):
        if g.site is not None and g.site not in sites:
            error = TextError("registry.err.no_site")
            problems.append((where("gateways", i, "site"), g.site, error))
    for i, s in enumerate(doc.sensors):
        if s.gateway not in gateways:
            error = TextError("registry.err.no_gateway")
            problems.append((where("sensors", i, "gateway"), s.gateway, error))
    if problems:
        raise ConfigError(path, list(problems))


#: Rows: table -> primary key -> column values (the primary key's columns included).
Rows = dict[type, dict[tuple[Any, ...], dict[str, Any]]]
CHANNELS = ("telegram", "whatsapp", "sms", "email")
LADDER_KEYS = {
    "road_depth": ("waspada_cm", "siaga_cm", "awas_cm"),
    "river_gauge": ("siaga_3_m", "siaga_2_m", "siaga_1_m"),
}


def to_rows(doc: RegistryDoc) -> Rows:
    rows: Rows = {Site: {}, Gateway: {}, Sensor: {}, Contact: {}, ContactChannel: {}}
    for s in doc.sites:
        row = s.model_dump(exclude={"flood"})
        levels = [None, None, None]
        if s.flood is not None:
            levels = [getattr(s.flood, key) for key in LADDER_KEYS[s.flood.ladder]]
        row |= {"flood_ladder": s.flood.ladder if s.flood else None}
        row |= {f"flood_{n}": level for n, level in enumerate(levels, 1)}
        rows[Site][(s.id,)] = row
    for g in doc.gateways:
        rows[Gateway][(g.id,)] = {"id": g.id, "site_id": g.site, "notes": g.notes}
    for s in doc.sensors:
        row = s.model_dump(exclude={"gateway"}) | {"gateway_id": s.gateway}
        rows[Sensor][(s.gateway, s.id)] = row
    for c in doc.contacts:
        rows[Contact][(c.id,)] = c.model_dump(include={"id", "name", "role", "language"})
        for kind in CHANNELS:
            address = getattr(c, kind)
            if address is not None:
                row = {"contact_id": c.id, "kind": kind, "address": address}
                rows[ContactChannel][(c.id, kind)] = row
    return rows


def from_rows(rows: Rows) -> dict[str, list[dict[str, Any]]]:
    """The document's data (plain values, ``None`` left out) from table rows, sorted by id."""

    def ordered(table: type) -> list[dict[str, Any]]:
        return [rows[table][key] for key in sorted(rows[table])]

    doc: dict[str, list[dict[str, Any]]] = {"sites": [], "gateways": [], "sensors": []}
    for r in ordered(Site):
        site = {k: v for k, v in r.items() if not k.startswith("flood")}
        if r["flood_ladder"] is not None:
            keys = LADDER_KEYS[r["flood_ladder"]]
            levels = (r["flood_1"], r["flood_2"], r["flood_3"])
            site["flood"] = {"ladder": r["flood_ladder"]} | dict(zip(keys, levels, strict=True))
        doc["sites"].append(site)
    for r in ordered(Gateway):
        doc["gateways"].append({"id": r["id"], "site": r["site_id"], "notes": r["notes"]})
    for r in ordered(Sensor):
        doc["sensors"].append({"gateway": r["gateway_id"]} | _without(r, "gateway_id"))
    channels: dict[str, dict[str, str]] = {}
    for r in ordered(ContactChannel):
        channels.setdefault(r["contact_id"], {})[r["kind"]] = r["address"]
    doc["contacts"] = [r | channels.get(r["id"], {}) for r in ordered(Contact)]
    return {table: [_plain(item) for item in items] for table, items in doc.items()}


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, dict) else v for k, v in item.items() if v is not None}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def dumps(data: dict[str, list[dict[str, Any]]], header: str = "") -> str:
    """The document's data as TOML: an array of tables per table, sub-tables after."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for table, items in data.items():
        for item in items:
            lines += ["", f"[[{table}]]"]
            subtables = {k: v for k, v in item.items() if isinstance(v, dict)}
            lines += [f"{k} = {_value(v)}" for k, v in item.items() if k not in subtables]
            for name, sub in subtables.items():
                lines.append(f"[{table}.{name}]")
                lines += [f"{k} = {_value(v)}" for k, v in sub.items()]
    return "\n".join(lines).lstrip("\n") + "\n"
