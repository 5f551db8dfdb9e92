"""Pure codec for payloads: bytes in, models out (and back). No I/O.

Decode errors are :class:`DecodeError` with a short machine-readable ``reason`` (used as a
metric label and in dead letters) and a message a person can act on.

A readings payload is JSON (payload version 1) or compact (version 2, :mod:`telemetry.compact`);
:func:`decode_batch` tells them apart by the first byte (``0xC1`` is compact, and can never
start UTF-8 text) and validates both with the same model.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from telemetry import compact
from telemetry.models import (
    COMPACT_PAYLOAD_VERSION,
    PAYLOAD_VERSION,
    RESERVED_MEASUREMENT,
    Batch,
    Status,
)
from telemetry.topics import RESERVED_ID

SUPPORTED_VERSIONS = (PAYLOAD_VERSION,)
ENCODINGS = ("json", "compact")
M = TypeVar("M", bound=BaseModel)
#: Reasons for a payload that is valid but for a name the contract keeps for itself. They
#: win over ``invalid`` when a payload has other problems too.
RESERVED_REASONS = (RESERVED_ID, RESERVED_MEASUREMENT)
#: Every reason a :class:`DecodeError` can carry (docs/protocol.md, section 2.3).
REASONS = (
    "empty",
    "not_utf8",
    "not_json",
    "not_object",
    "no_version",
    "unsupported_version",
    "invalid",
    *RESERVED_REASONS,
    "truncated",
    "corrupt",
)


class DecodeError(ValueError):
    """A payload that cannot be accepted. ``reason`` is one of :data:`REASONS`:

    ``empty``, ``not_utf8``, ``not_json``, ``not_object``, ``no_version``,
    ``unsupported_version``, ``invalid``; ``reserved_id`` (the payload's gateway is a reserved
    id) and ``reserved_measurement`` (a reading names a measurement JagaJalan writes itself);
    for compact payloads also ``truncated`` (the payload ends early) and ``corrupt`` (bytes
    that are not a well-formed compact payload).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


Encoding = Literal["json", "compact"]


def encode_batch(batch: Batch, encoding: Encoding = "json") -> bytes:
    """Encode a batch. ``json`` is payload version 1; ``compact`` is payload version 2, a
    binary encoding for cellular links (:mod:`telemetry.compact`), zlib-compressed when that
    is smaller. :func:`decode_batch` accepts both."""
    if encoding == "json":
        return batch.model_dump_json(exclude_defaults=False).encode()
    if encoding == "compact":
        return compact.encode(batch)
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {list(ENCODINGS)}")


def payload_version(payload: bytes) -> int | None:
    """The version a readings payload claims (2 for compact, else the JSON ``v``), or None
    when it is not readable enough to tell. Never raises; for logs and metrics."""
    if compact.is_compact(payload):
        return payload[1] if len(payload) > 1 else None
    try:
        version = json.loads(payload).get("v")
    except (ValueError, AttributeError, RecursionError):
        return None
    return version if type(version) is int else None


def encode_status(status: Status) -> bytes:
    return status.model_dump_json(exclude_none=True).encode()


def _load(payload: bytes, hint: str = "") -> dict[str, Any]:
    if not payload:
        raise DecodeError("empty", "payload is empty")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            "not_utf8", f"payload is not UTF-8 text ({exc.reason} at byte {exc.start}){hint}"
        ) from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        message = f"payload is not JSON: {exc.msg} at position {exc.pos}"
        raise DecodeError("not_json", message) from None
    except ValueError as exc:
        raise DecodeError("not_json", str(exc)) from None
    except RecursionError:
        raise DecodeError("not_json", "payload nests arrays or objects too deeply") from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"payload is a JSON {type(obj).__name__}, not an object")
    if "v" not in obj:
        raise DecodeError("no_version", "payload has no version key 'v'")
    if obj["v"] not in SUPPORTED_VERSIONS or isinstance(obj["v"], bool):
        hint = ""
        if obj["v"] == COMPACT_PAYLOAD_VERSION and not isinstance(obj["v"], bool):
            hint = f"; version {COMPACT_PAYLOAD_VERSION} is the binary compact encoding, not JSON"
        raise DecodeError(
            "unsupported_version",
            f"payload version {obj['v']!r} is not supported"
            f" (supported in JSON: {list(SUPPORTED_VERSIONS)}){hint}",
        )
    return obj


def _reject_constant(name: str) -> float:
    raise ValueError(f"payload contains {name}, which is not a number in JSON")


def _validate(model: type[M], obj: dict[str, Any]) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        types = {err["type"] for err in exc.errors(include_url=False)}
        reason = next((r for r in RESERVED_REASONS if r in types), "invalid")
        raise DecodeError(reason, describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One line per problem: where in the payload, what is wrong, and the bad value. Reserved
    names come first (they decide the reason)."""
    parts = []
    errors = sorted(
        exc.errors(include_url=False), key=lambda err: err["type"] not in RESERVED_REASONS
    )
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        value = err.get("input")
        try:
            shown = repr(value)
        except ValueError:  # an int too long to print
            shown = f"<{type(value).__name__} too long to show>"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        parts.append(f"{where}: {err['msg']} (got {shown})")
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more")
    return "; ".join(parts)


def decode_batch(payload: bytes) -> Batch:
    """Decode a readings payload, JSON (v1) or compact (v2). Raises :class:`DecodeError`
    naming the problem."""
    if compact.is_compact(payload):
        try:
            obj = compact.decode(payload)
        except compact.CompactError as exc:
            raise DecodeError(exc.reason, exc.message) from None
        return _validate(Batch, obj)
    hint = f" nor a compact payload (those start with byte 0x{compact.MAGIC:02x})"
    return _validate(Batch, _load(payload, hint))


def decode_status(payload: bytes) -> Status:
    """Decode a status payload. Raises :class:`DecodeError` naming the problem."""
    return _validate(Status, _load(payload))
