"""JSON errors instead of tracebacks: validation (422), a value a route cannot answer (400),
store down (503), store refusal (502), unknown path or resource (404), wrong method (405).

Every error body has the same shape (:class:`api.models.ErrorResponse`):
``{"error": "<code>", "message": "<for people>"}``, plus ``detail`` for validation errors.
Details of store failures go to the log, not to the client (they name internal hosts).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import backend_name
from api.models import ErrorResponse
from registry.read import RegistryUnavailable
from store import StoreError, StoreUnavailable

log = logging.getLogger("api")

#: Error responses documented on every data route (OpenAPI).
STORE_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorResponse, "description": "the store refused the query"},
    503: {"model": ErrorResponse, "description": "the store is unavailable (retry later)"},
}
INVALID_REQUEST: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "a query parameter is invalid"},
}
BAD_PARAMETER: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "a parameter's value cannot be answered"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no such gateway"},
}
REGISTRY_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "the registry (or the store) cannot be read now, or this API runs "
        "without a registry",
    },
}
#: Error codes of the HTTP errors raised by routing (unknown path, wrong method) or a route.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 409: "conflict"}


class InvalidParameter(Exception):
    """A query parameter whose value the route cannot answer (400 ``invalid_parameter``):
    the message names the parameter, the value and what would do."""

    def __init__(self, name: str, value: object, message: str) -> None:
        super().__init__(f"{name}={value!r}: {message}")
        self.name, self.value, self.message = name, value, message


class NoRegistry(Exception):
    """A route that needs the registry, in an API started without one (503)."""


_URL_USERINFO = re.compile(r"(://)[^/@\s]+@")


def redact(text: str) -> str:
    """Hide credentials that may sit in URLs inside an error text before it is logged."""
    return _URL_USERINFO.sub(r"\1***@", text)


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    if status == 503:
        headers = {**(headers or {}), "Retry-After": "5"}
    body = {"error": code, "message": message, **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _describe(err: dict) -> str:
    loc = [str(part) for part in err.get("loc", ())]
    where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}" if len(loc) > 1 else ".".join(loc)
    text = f"{where}: {err.get('msg', 'invalid')}"
    if "input" in err and err["input"] is not None:
        text += f" (got {err['input']!r})"
    return text


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    message = "; ".join(_describe(err) for err in errors) or "invalid request"
    detail = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        for err in errors
    ]
    return _error(422, "invalid_request", message, detail=detail)


async def on_invalid_parameter(request: Request, exc: InvalidParameter) -> JSONResponse:
    detail = [
        {"loc": ["query", exc.name], "msg": exc.message, "type": "invalid_parameter"},
    ]
    return _error(400, "invalid_parameter", str(exc), detail=detail)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404 and 405 from routing (their detail is the bare reason phrase) and those a route
    raises with a message of its own, in the one error format."""
    code = HTTP_CODES.get(exc.status_code, "http_error")
    where = f"{request.method} {request.url.path}"
    message = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404 and message in ("", "Not Found"):
        message = f"nothing at {request.url.path}; GET / lists what exists"
    elif exc.status_code == 405 and message in ("", "Method Not Allowed"):
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        allowed = headers.get("allow", "GET")
        message = f"{where} is not allowed; this path answers {allowed}"
    return _error(exc.status_code, code, message or where, headers=exc.headers)


async def on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    backend = backend_name(request.app.state.store)
    log.warning("%s %s: store unavailable: %s", request.method, request.url.path, redact(str(exc)))
    return _error(503, "store_unavailable", f"the {backend} store is unavailable; try again later")


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    backend = backend_name(request.app.state.store)
    log.error("%s %s: store error: %s", request.method, request.url.path, redact(str(exc)))
    return _error(502, "store_error", f"the {backend} store refused the request; see the API log")


async def on_registry_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The registry cannot be read (:class:`registry.read.RegistryUnavailable`), or the API
    runs without one (:class:`NoRegistry`): 503 ``registry_unavailable``."""
    if isinstance(exc, NoRegistry):
        message = (
            "this API runs without a registry of sites: start it with --registry-db or "
            "--registry-url (jagajalan registry init makes one)"
        )
        return _error(503, "registry_unavailable", message)
    if isinstance(exc, SQLAlchemyError):  # its text holds the statement's values: not logged
        exc = getattr(exc, "orig", None) or exc
        text = f"the registry failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    else:
        text = str(exc)
    log.warning("%s %s: %s", request.method, request.url.path, redact(text))
    return _error(503, "registry_unavailable", "the registry cannot be read now; try again later")


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return _error(500, "internal_error", "internal error; see the API log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidParameter, on_invalid_parameter)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(NoRegistry, on_registry_unavailable)
    app.add_exception_handler(RegistryUnavailable, on_registry_unavailable)
    app.add_exception_handler(SQLAlchemyError, on_registry_unavailable)  # the admin routes
    app.add_exception_handler(StoreUnavailable, on_store_unavailable)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
