"""Bodies and answers of the registry's admin routes (api/routes/registry.py).

The bodies are the registry file's own models (registry/document.py), so a site sent to the
API is checked exactly as one imported from TOML; the id comes from the path (an id in the
body must be the same). A gateway's body holds its sensors. Registering a new gateway issues
its MQTT credentials once (:func:`issue`): the password, its line for Mosquitto's password
file, the ACL lines and the gateway config's ``[gateway]`` and ``[mqtt]`` tables.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.sites import SiteGateway
from registry import credentials
from registry.document import ContactDoc, GatewayDoc, GatewayId, SensorDoc, SiteDoc, Slug

SITE_EXAMPLE = {
    "name": "Jl. Lintas Sumatera, Pasar Sarolangun",
    "road": "Jl. Lintas Sumatera",
    "segment": "Pasar Sarolangun",
    "kecamatan": "Sarolangun",
    "latitude": -2.2985,
    "longitude": 102.7045,
    "road_type": "arteri_primer",
    "capacity_smp_per_hour": 2300,
    "flood": {"ladder": "road_depth", "waspada_cm": 10, "siaga_cm": 20, "awas_cm": 30},
}
GATEWAY_EXAMPLE = {
    "site": "singkut",
    "notes": "Kabinet di tiang PJU; modem 4G",
    "sensors": [
        {"id": "env1", "device": "modbus", "profile": "pm-th-generic"},
        {"id": "cnt1", "device": "traffic_counter", "installed_on": "2026-03-02"},
    ],
}
CONTACT_EXAMPLE = {
    "name": "Posko Dinas PUPR Sarolangun",
    "role": "operator",
    "language": "id",
    "whatsapp": "+6281234567890",
}


class SiteBody(SiteDoc):
    model_config = ConfigDict(json_schema_extra={"examples": [SITE_EXAMPLE]})

    id: Slug | None = Field(None, description="the path's site id; if given, the same")  # type: ignore[assignment]


class SensorBody(SensorDoc):
    gateway: GatewayId | None = Field(  # type: ignore[assignment]
        None, description="the path's gateway id; if given, the same"
    )


class GatewayBody(GatewayDoc):
    model_config = ConfigDict(json_schema_extra={"examples": [GATEWAY_EXAMPLE]})

    id: GatewayId | None = Field(None, description="the path's gateway id; if given, the same")  # type: ignore[assignment]
    sensors: list[SensorBody] = Field([], description="all its sensors (the others are removed)")


class ContactBody(ContactDoc):
    model_config = ConfigDict(json_schema_extra={"examples": [CONTACT_EXAMPLE]})

    id: Slug | None = Field(None, description="the path's contact id; if given, the same")  # type: ignore[assignment]


class Credentials(BaseModel):
    username: str = Field(
        description="the MQTT username: the gateway id", examples=["srl-pasar-01"]
    )
    password: str = Field(
        description="the new password, shown this once: copy it to the gateway (mode 600)",
        examples=["Jx2b8H3nq0Zr3Yp1_kV7mWc4dTeu9sAl"],
    )
    password_file_entry: str = Field(
        description="its line for Mosquitto's password file (mosquitto_passwd format); "
        "reload the broker (kill -HUP) after adding it",
        examples=["srl-pasar-01:$7$101$c2FsdHNhbHRzYWx0$aGFzaA=="],
    )
    acl: str = Field(
        description="its ACL lines, for a broker without the shipped pattern rules",
        examples=["user srl-pasar-01\ntopic write jagajalan/v1/srl-pasar-01/readings\n"],
    )
    gateway_config: str = Field(
        description="the [gateway] and [mqtt] tables of the gateway's config (TOML)",
        examples=['[gateway]\nid = "srl-pasar-01"\n\n[mqtt]\nurl = "mqtts://broker:8883"\n'],
    )


class GatewayRegistered(BaseModel):
    gateway: SiteGateway
    site: str | None = Field(description="its site's id", examples=["singkut"])
    notes: str | None = Field(description="notes for the technicians", examples=[None])
    created: bool = Field(description="true: registered now; false: replaced", examples=[True])
    credentials: Credentials | None = Field(
        description="only when the gateway was registered now (re-issue: POST "
        "/registry/gateways/{gateway}/credentials); null when replaced"
    )


class ContactPublic(BaseModel):
    id: str = Field(examples=["posko-pupr"])
    name: str = Field(examples=["Posko Dinas PUPR Sarolangun"])
    role: str = Field(examples=["operator"])
    language: str = Field(description="id or en", examples=["id"])
    telegram: str | None = Field(None, examples=["@posko_pupr_srl"])
    whatsapp: str | None = Field(None, examples=["+6281234567890"])
    sms: str | None = Field(None, examples=["+6281234567890"])
    email: str | None = Field(None, examples=["posko@pupr.sarolangunkab.go.id"])


class Deleted(BaseModel):
    deleted: str = Field(
        description="what was removed: site, gateway or contact", examples=["site"]
    )
    id: str = Field(examples=["pasar-sarolangun"])


def issue(gateway: str, site: Any, broker_url: str, password_path: str) -> Credentials:
    """New credentials of *gateway* (*site*: its registry row or None)."""
    password = credentials.new_password()
    config = credentials.gateway_config(
        gateway,
        site.name if site is not None else None,
        site.latitude if site is not None else None,
        site.longitude if site is not None else None,
        broker_url,
        password_path,
    )
    return Credentials(
        username=gateway,
        password=password,
        password_file_entry=f"{gateway}:{credentials.mosquitto_hash(password)}",
        acl=credentials.acl_lines(gateway),
        gateway_config=config,
    )
