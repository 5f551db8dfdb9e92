"""JSON errors instead of tracebacks: validation (422), store down (503), store refusal (502).

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

from api.deps import backend_name
from api.models import ErrorResponse
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

_URL_USERINFO = re.compile(r"(://)[^/@\s]+@")


def redact(text: str) -> str:
    """Hide credentials that may sit in URLs inside an error text before it is logged."""
    return _URL_USERINFO.sub(r"\1***@", text)


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
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


async def on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    backend = backend_name(request.app.state.store)
    log.warning("%s %s: store unavailable: %s", request.method, request.url.path, redact(str(exc)))
    return _error(503, "store_unavailable", f"the {backend} store is unavailable; try again later")


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    backend = backend_name(request.app.state.store)
    log.error("%s %s: store error: %s", request.method, request.url.path, redact(str(exc)))
    return _error(502, "store_error", f"the {backend} store refused the request; see the API log")


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return _error(500, "internal_error", "internal error; see the API log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, on_store_unavailable)
    app.add_exception_handler(StoreError, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
