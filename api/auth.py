"""Access control as FastAPI dependencies: ``requires(role)`` and :data:`read_access`.

A key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Roles rank
viewer < operator < admin. Without a valid key: 401 (``WWW-Authenticate: Bearer``), unless the
route is a read of a public group (``--public-read``); a key whose role is too low: 403; a
client over its rate: 429 with ``Retry-After`` (whole seconds). All in the one error format
(``{"error", "message"}``). The key itself is never logged: only its name and prefix.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.access import Access, Caller
from api.models import ErrorResponse

log = logging.getLogger("api.auth")

RANK = {"viewer": 0, "operator": 1, "admin": 2}
CHALLENGE = 'Bearer realm="jagajalan"'
#: Groups of the routes of access control itself (api/routes/access.py) and of the registry's
#: management (api/routes/registry.py, operator or admin): never public.
OWN_GROUPS = frozenset({"whoami", "keys", "registry"})

_bearer = HTTPBearer(auto_error=False, description="an API key: `Bearer jj_<prefix>_<secret>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key")

#: Error responses documented on every route behind a key (OpenAPI).
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no key, or a key that is not valid"},
    403: {"model": ErrorResponse, "description": "the key's role may not do this"},
    429: {"model": ErrorResponse, "description": "too many requests; see Retry-After"},
}


class Refusal(Exception):
    """An answer of access control: status, error code, message, headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    body = {"error": exc.code, "message": exc.message}
    return JSONResponse(jsonable_encoder(body), status_code=exc.status, headers=exc.headers)


def install(app: FastAPI, access: Access) -> None:
    app.state.access = access
    app.add_exception_handler(Refusal, on_refusal)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(access: Access, name: str, kind: str) -> None:
    wait = access.buckets.take(name, kind)
    if wait is not None:
        raise Refusal(
            429,
            "rate_limited",
            f"too many requests; try again in {wait} s",
            {"Retry-After": str(wait)},
        )


def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Caller | None:
    """The caller of a request with a key; None without one; 401 for a key that is not
    valid (unknown, revoked, malformed)."""
    presented = bearer.credentials if bearer else header
    if not presented:
        return None
    access: Access = request.app.state.access
    found, who = access.cache.cached(presented) if access.cache else (True, None)
    if not found:
        assert access.cache is not None
        # A key not seen recently costs a scrypt: an address may make only so many.
        _limit(access, f"ip:{_client(request)}", "public")
        try:
            who = access.cache.lookup(presented)
        except Exception:
            log.exception("the registry could not check a key")
            raise Refusal(
                503,
                "registry_unavailable",
                "the registry cannot check keys now; try again later",
                {"Retry-After": "5"},
            ) from None
    if who is None:
        raise Refusal(
            401,
            "invalid_key",
            "this API key is not valid (unknown, revoked or mistyped)",
            {"WWW-Authenticate": CHALLENGE + ', error="invalid_token"'},
        )
    return who


def _needs_key() -> Refusal:
    return Refusal(
        401,
        "unauthorized",
        "an API key is needed: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        {"WWW-Authenticate": CHALLENGE},
    )


def requires(role: str) -> Any:
    """A dependency: the request needs a key of *role* or higher (then rate-limited per key);
    ``Depends(requires("admin"))`` or, in a route, ``who: Annotated[Caller, requires(...)]``."""
    if role not in RANK:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(RANK)}")

    def dependency(request: Request, who: Annotated[Caller | None, Depends(caller)]) -> Caller:
        access: Access = request.app.state.access
        if who is None:
            raise _needs_key()
        _limit(access, f"key:{who.prefix}", who.role)  # refused attempts count too
        if RANK.get(who.role, -1) < RANK[role]:
            raise Refusal(
                403,
                "forbidden",
                f"the key {who.name} has the role {who.role}; this needs {role} or higher",
                {},
            )
        return who

    return Depends(dependency)


def group_of(path: str) -> str:
    """A read endpoint's group: the first part of its path (``/gateways/x`` -> gateways)."""
    return path.strip("/").split("/", 1)[0]


def read(request: Request, who: Annotated[Caller | None, Depends(caller)]) -> Caller | None:
    """Reads: any valid key, or none when the route's group is public (then limited per
    client address)."""
    access: Access = request.app.state.access
    if who is None:
        if not access.is_public(group_of(request.url.path)):
            raise _needs_key()
        _limit(access, f"ip:{_client(request)}", "public")
        return None
    _limit(access, f"key:{who.prefix}", who.role)
    return who


read_access = Depends(read)


def check_public(app: FastAPI) -> None:
    """Every public group named must be a group of read routes (those behind a key but not
    :data:`OWN_ROUTES`): a typo opens nothing."""
    from fastapi.openapi.utils import get_openapi

    access: Access = app.state.access
    paths = get_openapi(title=app.title, version=app.version, routes=app.routes)["paths"]
    groups = {
        group_of(path)
        for path, item in paths.items()
        if any("security" in op for op in item.values() if isinstance(op, dict))
    } - OWN_GROUPS
    unknown = sorted((access.public or frozenset()) - groups)
    if unknown:
        raise ValueError(
            f"--public-read names no group of this API: {', '.join(unknown)}; "
            f"the groups: {', '.join(sorted(groups))} (or all, or none)"
        )
