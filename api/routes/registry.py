"""The registry managed through the API: sites, gateways (with their sensors) and contacts.

Writes need an admin key (401 without a key, 403 for viewer and operator); contacts (phone
numbers, e-mail) and the export, which holds them, need operator or admin: never a public
read. A body is checked by the registry file's own models (api/admin.py); a problem answers
422 ``invalid_request`` naming the field and the value, a change the registry's references
forbid (a site that still has gateways) 409 ``conflict``. The registry's cached site list
(registry/read.py) is dropped after each change, so ``GET /sites`` shows it at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.admin import (
    ContactBody,
    ContactPublic,
    Credentials,
    Deleted,
    GatewayBody,
    GatewayRegistered,
    SiteBody,
    issue,
)
from api.auth import requires
from api.deps import RegistryDep
from api.errors import INVALID_REQUEST, REGISTRY_ERRORS
from api.models import ErrorResponse
from api.sites import SensorPublic, SiteGateway, SitePublic, site_public
from kernel import __version__
from kernel.fields import check_broker_url
from registry import csvfiles, document, sync, write
from registry.document import ContactDoc, GatewayDoc, SensorDoc, SiteDoc
from registry.models import Gateway
from telemetry.topics import ID_PATTERN

M = TypeVar("M", bound=BaseModel)
router = APIRouter(tags=["registry"])
ADMIN = [requires("admin")]
OPERATOR = [requires("operator")]
SLUG = r"^[a-z0-9][a-z0-9-]{0,63}$"

SitePath = Annotated[
    str, Path(pattern=SLUG, description="the site's id", examples=["pasar-sarolangun"])
]
GatewayPath = Annotated[
    str,
    Path(pattern=f"^{ID_PATTERN}$", description="the gateway's id", examples=["srl-contoh-01"]),
]
ContactPath = Annotated[
    str, Path(pattern=SLUG, description="the contact's id", examples=["posko-pupr"])
]
BrokerParam = Annotated[
    str | None,
    Query(
        description="the broker as the gateway reaches it (mqtt:// or mqtts://host:port): "
        "needed to register a new gateway, for its config",
        examples=["mqtts://broker.sarolangunkab.go.id:8883"],
    ),
]
PasswordPathParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        description="where the password file goes on the gateway",
        examples=["/etc/jagajalan/mqtt-password"],
    ),
]
BODY = {400: {"model": ErrorResponse, "description": "the body is not JSON"}}
MISSING = {404: {"model": ErrorResponse, "description": "no such row in the registry"}}
CONFLICT = {409: {"model": ErrorResponse, "description": "the registry's references refuse it"}}


def _invalid(field: str, value: Any, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", field), "msg": message, "type": "value_error", "input": value}]
    )


def _validated(model: type[M], data: dict[str, Any], path_name: str, at: tuple = ()) -> M:
    """*data* as the registry file's *model*; a problem as a 422 naming the field (the id:
    the path parameter *path_name*) and the value."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            # The id is the path's; so is a sensor's gateway (*at*: where the row sits).
            from_path = loc[:1] == ("gateway",) or (loc[:1] == ("id",) and not at)
            where = ("path", path_name) if from_path else ("body", *at, *loc)
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append({**err, "loc": where, "msg": msg})
        raise RequestValidationError(problems) from None


def _same_id(given: str | None, path: str, what: str) -> None:
    if given is not None and given != path:
        raise _invalid("id", given, f"must be the {what} id of the path ({path!r}) or left out")


def _refused(exc: write.Refused) -> Exception:
    if exc.conflict:
        return HTTPException(409, exc.message)
    return _invalid(exc.field, exc.value, exc.message)


def _missing(what: str, key: str) -> HTTPException:
    return HTTPException(404, f"the registry has no {what} {key!r}")


def _broker(url: str | None, needed: bool) -> str | None:
    if url is None:
        if needed:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "broker_url"),
                        "msg": "needed to register a new gateway: the broker as the gateway "
                        "reaches it, e.g. mqtts://broker:8883",
                        "type": "missing",
                        "input": None,
                    }
                ]
            )
        return None
    try:
        return check_broker_url(url)
    except ValueError as exc:
        raise RequestValidationError(
            [{"loc": ("query", "broker_url"), "msg": str(exc), "type": "value_error", "input": url}]
        ) from None


# -- sites ------------------------------------------------------------------------------------
@router.put(
    "/sites/{site}",
    response_model=SitePublic,
    summary="Create or replace a site (admin)",
    dependencies=ADMIN,
    responses={201: {"model": SitePublic, "description": "created"}, **BODY, **INVALID_REQUEST}
    | REGISTRY_ERRORS,
)
def put_site(
    site: SitePath, body: Annotated[SiteBody, Body()], registry: RegistryDep, response: Response
) -> SitePublic:
    """The site as the registry file holds it (docs/registry.md); 201 when it is new, 200
    when it replaced the one there. Its gateways stay (they name their site)."""
    _same_id(body.id, site, "site")
    doc = _validated(SiteDoc, body.model_dump() | {"id": site}, "site")
    created = write.put_site(registry.engine, doc)
    registry.forget()
    response.status_code = 201 if created else 200
    found = registry.site(site)
    assert found is not None
    return site_public(found)


@router.delete(
    "/sites/{site}",
    response_model=Deleted,
    summary="Delete a site that has no gateway (admin)",
    dependencies=ADMIN,
    responses={**MISSING, **CONFLICT, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def delete_site(site: SitePath, registry: RegistryDep) -> Deleted:
    """409 while gateways still belong to the site: move them (PUT their site) or delete them
    first."""
    try:
        write.delete_site(registry.engine, site)
    except write.Missing:
        raise _missing("site", site) from None
    except write.Refused as exc:
        raise _refused(exc) from None
    registry.forget()
    return Deleted(deleted="site", id=site)


# -- gateways ---------------------------------------------------------------------------------
@router.put(
    "/registry/gateways/{gateway}",
    response_model=GatewayRegistered,
    summary="Register or replace a gateway with its sensors (admin); new: its MQTT credentials",
    dependencies=ADMIN,
    responses={201: {"model": GatewayRegistered, "description": "registered"}, **BODY}
    | INVALID_REQUEST
    | REGISTRY_ERRORS,
)
def put_gateway(
    gateway: GatewayPath,
    body: Annotated[GatewayBody, Body()],
    registry: RegistryDep,
    response: Response,
    broker_url: BrokerParam = None,
    password_path: PasswordPathParam = "/etc/jagajalan/mqtt-password",
) -> GatewayRegistered:
    """The gateway, its site and all its sensors (the ones not listed are removed). A new
    gateway (201) gets its MQTT credentials in the answer, this once: the password, its line
    for Mosquitto's password file, ACL lines and the gateway config's [gateway] and [mqtt]
    tables (``broker_url`` is then needed). Replacing one (200) issues none."""
    _same_id(body.id, gateway, "gateway")
    for i, s in enumerate(body.sensors):
        if s.gateway is not None and s.gateway != gateway:
            raise _invalid(f"sensors[{i}].gateway", s.gateway, "must be the path's gateway id")
    doc = _validated(GatewayDoc, {"id": gateway, "site": body.site, "notes": body.notes}, "gateway")
    sensors = [
        _validated(SensorDoc, s.model_dump() | {"gateway": gateway}, "gateway", ("sensors", i))
        for i, s in enumerate(body.sensors)
    ]
    with Session(registry.engine) as session:
        new = session.get(Gateway, gateway) is None
    url = _broker(broker_url, needed=new)
    try:
        created = write.put_gateway(registry.engine, doc, sensors)
    except write.Refused as exc:
        raise _refused(exc) from None
    registry.forget()
    issued = None
    if created:
        assert url is not None
        issued = _issue(registry, gateway, url, password_path)
    response.status_code = 201 if created else 200
    return GatewayRegistered(
        gateway=SiteGateway(
            id=gateway,
            sensors=[SensorPublic(id=s.id, device=s.device, profile=s.profile) for s in sensors],
        ),
        site=body.site,
        notes=body.notes,
        created=created,
        credentials=issued,
    )


def _issue(registry: RegistryDep, gateway: str, url: str, password_path: str) -> Credentials:
    with Session(registry.engine) as session:
        row = session.get(Gateway, gateway)
        if row is None:
            raise _missing("gateway", gateway)
        return issue(gateway, row.site, url, password_path)


@router.post(
    "/registry/gateways/{gateway}/credentials",
    response_model=Credentials,
    summary="Issue new MQTT credentials for a registered gateway (admin)",
    dependencies=ADMIN,
    responses={**MISSING, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def post_credentials(
    gateway: GatewayPath,
    registry: RegistryDep,
    broker_url: BrokerParam = None,
    password_path: PasswordPathParam = "/etc/jagajalan/mqtt-password",
) -> Credentials:
    """A new password (the old one stays valid until the broker's password file holds the
    new line), as ``jagajalan registry credentials`` issues it; nothing is stored."""
    url = _broker(broker_url, needed=True)
    assert url is not None
    return _issue(registry, gateway, url, password_path)


@router.delete(
    "/registry/gateways/{gateway}",
    response_model=Deleted,
    summary="Delete a gateway and its sensors from the registry (admin)",
    dependencies=ADMIN,
    responses={**MISSING, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def delete_gateway(gateway: GatewayPath, registry: RegistryDep) -> Deleted:
    """Its readings stay in the store; remove its line from Mosquitto's password file too."""
    try:
        write.delete_gateway(registry.engine, gateway)
    except write.Missing:
        raise _missing("gateway", gateway) from None
    registry.forget()
    return Deleted(deleted="gateway", id=gateway)


# -- contacts ---------------------------------------------------------------------------------
def _contacts(registry: RegistryDep) -> list[ContactPublic]:
    data = document.from_rows(sync.export_rows(registry.engine))
    return [ContactPublic(**c) for c in data["contacts"]]


@router.get(
    "/registry/contacts",
    response_model=list[ContactPublic],
    summary="Contacts that alerts reach, with their numbers (operator or admin)",
    dependencies=OPERATOR,
    responses=REGISTRY_ERRORS,
)
def list_contacts(registry: RegistryDep) -> list[ContactPublic]:
    """By id. Never a public read: phone numbers and e-mail addresses of people."""
    return _contacts(registry)


@router.put(
    "/registry/contacts/{contact}",
    response_model=ContactPublic,
    summary="Create or replace a contact (admin)",
    dependencies=ADMIN,
    responses={201: {"model": ContactPublic, "description": "created"}, **BODY}
    | INVALID_REQUEST
    | REGISTRY_ERRORS,
)
def put_contact(
    contact: ContactPath,
    body: Annotated[ContactBody, Body()],
    registry: RegistryDep,
    response: Response,
) -> ContactPublic:
    """Its channels are the ones given (telegram, whatsapp, sms, email); 201 when new."""
    _same_id(body.id, contact, "contact")
    doc = _validated(ContactDoc, body.model_dump() | {"id": contact}, "contact")
    created = write.put_contact(registry.engine, doc)
    response.status_code = 201 if created else 200
    return ContactPublic(**doc.model_dump())


@router.delete(
    "/registry/contacts/{contact}",
    response_model=Deleted,
    summary="Delete a contact (admin)",
    dependencies=ADMIN,
    responses={**MISSING, **CONFLICT, **INVALID_REQUEST, **REGISTRY_ERRORS},
)
def delete_contact(contact: ContactPath, registry: RegistryDep) -> Deleted:
    """409 while API keys belong to the contact."""
    try:
        write.delete_contact(registry.engine, contact)
    except write.Missing:
        raise _missing("contact", contact) from None
    except write.Refused as exc:
        raise _refused(exc) from None
    return Deleted(deleted="contact", id=contact)


# -- export ---------------------------------------------------------------------------------
EXPORT_TOML = '[[sites]]\nid = "pasar-sarolangun"\nname = "Jl. Lintas Sumatera, Pasar"\n'
EXPORT_CSV = 'id,name,road\npasar-sarolangun,"Jl. Lintas Sumatera, Pasar",Jl. Lintas Sumatera\n'
MEDIA = {"toml": "application/toml", "csv": "text/csv"}


@router.get(
    "/registry/export",
    summary="The whole registry as `jagajalan registry export` writes it: TOML, or a CSV table",
    dependencies=OPERATOR,
    response_class=Response,
    responses={
        200: {
            "description": "the registry file (TOML) or one table's CSV file",
            "content": {
                "application/toml": {"schema": {"type": "string"}, "example": EXPORT_TOML},
                "text/csv": {"schema": {"type": "string"}, "example": EXPORT_CSV},
            },
        },
        **INVALID_REQUEST,
        **REGISTRY_ERRORS,
    },
)
def export(
    registry: RegistryDep,
    format: Annotated[
        Literal["toml", "csv"],
        Query(description="toml: the registry file; csv: one table's file", examples=["toml"]),
    ] = "toml",
    table: Annotated[
        Literal["sites", "gateways", "sensors", "contacts"] | None,
        Query(description="the table, with format=csv (its file's name)", examples=["sites"]),
    ] = None,
) -> Response:
    """Sites, gateways, sensors and contacts (contacts hold phone numbers: operator or
    admin); ``jagajalan registry import`` reads it back (CSV: the files of a folder, one per
    table). Never API keys."""
    data = document.from_rows(sync.export_rows(registry.engine))
    if format == "toml":
        header = f"JagaJalan registry, exported by jagajalan {__version__} (GET /registry/export)"
        return Response(document.dumps(data, header), media_type=MEDIA["toml"])
    if table is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "table"),
                    "msg": "format=csv needs a table: sites, gateways, sensors or contacts",
                    "type": "missing",
                    "input": None,
                }
            ]
        )
    return Response(csvfiles.table_text(data, table), media_type=MEDIA["csv"])
