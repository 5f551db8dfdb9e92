"""The desired-version command on a gateway's ``cmd`` topic (docs/protocol.md, section 1.1),
built and checked without I/O.

A command is one JSON object; ``sig`` is a detached signature over the canonical bytes of every
other key (sorted keys, no spaces, UTF-8), made by the firmware signing key (the same minisign
Ed25519 key as the bundles: ``Signer``/``Check`` are that key's sign and verify, plugged in by
the caller). It is retained, so a gateway that comes back after days finds the newest one; it
names the gateway, so a command copied to another gateway's topic is refused; it expires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

TYPE = "desired-version"
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")

#: Signs bytes, returns the signature as text (minisign's .minisig text).
Signer = Callable[[bytes], str]
#: Checks a signature made over bytes by a trusted key.
Check = Callable[[bytes, str], bool]


class CommandError(ValueError):
    """A command a gateway must ignore; ``reason`` names the check that failed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Command:
    gateway: str
    version: str  # the release the gateway should run
    counter: int  # the bundle's anti-rollback counter
    bundle: str  # where to fetch the bundle (URL; its .minisig beside it)
    sha256: str  # of the bundle file
    rollout: str  # which rollout sent it (the status reports it back)
    issued: int  # epoch ms
    expires: int  # epoch ms
    v: int = 1
    type: str = TYPE


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode(command: Command, sign: Signer) -> bytes:
    body = asdict(command)
    return canonical({**body, "sig": sign(canonical(body))})


def decode(payload: bytes, *, gateway: str, now_ms: int, check: Check) -> Command:
    """The command in *payload* for *gateway*, or :class:`CommandError`."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError("format", str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("sig"), str):
        raise CommandError("format", "an object with a sig")
    sig = data.pop("sig")
    if not check(canonical(data), sig):
        raise CommandError("signature")
    try:
        command = Command(**data)
    except TypeError as exc:
        raise CommandError("format", str(exc)) from None
    if command.v != 1 or command.type != TYPE:
        raise CommandError("format", f"v={command.v} type={command.type}")
    if command.gateway != gateway:
        raise CommandError("gateway", command.gateway)
    if not VERSION.fullmatch(str(command.version)) or not SHA256.fullmatch(str(command.sha256)):
        raise CommandError("format", "version or sha256")
    if now_ms >= command.expires:
        raise CommandError("expired", str(command.expires))
    return command
