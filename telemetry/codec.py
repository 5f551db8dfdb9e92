"""Pure codec for payloads: bytes in, models out (and back). No I/O.

Decode errors are :class:`DecodeError` with a short machine-readable ``reason`` (used as a
metric label and in dead letters) and a message a person can act on.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from telemetry.models import PAYLOAD_VERSION, Batch, Status

SUPPORTED_VERSIONS = (PAYLOAD_VERSION,)
M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    """A payload that cannot be accepted. ``reason`` is one of:

    ``empty``, ``not_utf8``, ``not_json``, ``not_object``, ``no_version``,
    ``unsupported_version``, ``invalid``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


Encoding = Literal["json", "compact"]


def encode_batch(batch: Batch, encoding: Encoding = "json") -> bytes:
    """Encode a batch. ``json`` is payload version 1; ``compact`` (a binary encoding for
    cellular links) is negotiated by the payload version and accepted by the same
    :func:`decode_batch`."""
    if encoding == "json":
        return batch.model_dump_json(exclude_defaults=False).encode()
    raise NotImplementedError(f"encoding {encoding!r} is not implemented yet")


def encode_status(status: Status) -> bytes:
    return status.model_dump_json(exclude_none=True).encode()


def _load(payload: bytes) -> dict[str, Any]:
    if not payload:
        raise DecodeError("empty", "payload is empty")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            "not_utf8", f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        message = f"payload is not JSON: {exc.msg} at position {exc.pos}"
        raise DecodeError("not_json", message) from None
    except ValueError as exc:
        raise DecodeError("not_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"payload is a JSON {type(obj).__name__}, not an object")
    if "v" not in obj:
        raise DecodeError("no_version", "payload has no version key 'v'")
    if obj["v"] not in SUPPORTED_VERSIONS or isinstance(obj["v"], bool):
        raise DecodeError(
            "unsupported_version",
            f"payload version {obj['v']!r} is not supported"
            f" (supported: {list(SUPPORTED_VERSIONS)})",
        )
    return obj


def _reject_constant(name: str) -> float:
    raise ValueError(f"payload contains {name}, which is not a number in JSON")


def _validate(model: type[M], obj: dict[str, Any]) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise DecodeError("invalid", describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One line per problem: where in the payload, what is wrong, and the bad value."""
    parts = []
    errors = exc.errors(include_url=False)
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        value = err.get("input")
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        parts.append(f"{where}: {err['msg']} (got {shown})")
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more")
    return "; ".join(parts)


def decode_batch(payload: bytes) -> Batch:
    """Decode a readings payload. Raises :class:`DecodeError` naming the problem."""
    return _validate(Batch, _load(payload))


def decode_status(payload: bytes) -> Status:
    """Decode a status payload. Raises :class:`DecodeError` naming the problem."""
    return _validate(Status, _load(payload))
