"""``GET /whoami`` (any key) and ``GET /keys`` (admin): who am I, and which keys exist."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.access import Access, Caller
from api.auth import AUTH_ERRORS, requires

router = APIRouter(tags=["access"], responses=AUTH_ERRORS)


class WhoAmI(BaseModel):
    name: str = Field(description="the key's name", examples=["dinas-pupr-viewer"])
    prefix: str = Field(description="the key's prefix (its public part)", examples=["3f9a0c1e"])
    role: str = Field(description="viewer, operator or admin", examples=["viewer"])


class KeyEntry(WhoAmI):
    contact: str | None = Field(description="the registry contact the key belongs to")
    created: dt.datetime = Field(description="when it was made (UTC)")
    revoked: dt.datetime | None = Field(description="when it was revoked (UTC); null: valid")


@router.get("/whoami", response_model=WhoAmI, summary="The key this request was sent with")
def whoami(who: Annotated[Caller, requires("viewer")]) -> WhoAmI:
    """The name, prefix and role of the key sent (any role); 401 without one."""
    return WhoAmI(name=who.name, prefix=who.prefix, role=who.role)


@router.get("/keys", response_model=list[KeyEntry], summary="Every API key (admin)")
def list_keys(request: Request, who: Annotated[Caller, requires("admin")]) -> list[KeyEntry]:
    """Every key of the registry, oldest first, without secrets or hashes; admin keys only
    (another role: 403)."""
    from registry import keys

    access: Access = request.app.state.access
    if access.engine is None:
        return []
    return [
        KeyEntry(
            name=k.id,
            prefix=k.prefix,
            role=k.role,
            contact=k.contact,
            created=k.created_at,
            revoked=k.revoked_at,
        )
        for k in keys.all_keys(access.engine)
    ]
