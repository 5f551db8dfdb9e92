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
    contact: str | None = Field(
        description="the registry contact the key belongs to", examples=["kepala-seksi-jalan"]
    )
    created: dt.datetime = Field(
        description="when it was made (UTC)", examples=["2026-12-06T02:15:00Z"]
    )
    revoked: dt.datetime | None = Field(
        description="when it was revoked (UTC); null: valid", examples=[None]
    )


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
            created=_utc(k.created_at),
            revoked=_utc(k.revoked_at) if k.revoked_at else None,
        )
        for k in keys.all_keys(access.engine)
    ]


def _utc(t: dt.datetime) -> dt.datetime:
    """The registry keeps UTC; SQLite gives it back without a zone, which is not a date-time
    of the document (found by tests/api/test_schemathesis.py)."""
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
