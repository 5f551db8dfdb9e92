"""API keys: made, listed, revoked and checked; only a slow, salted hash is ever stored.

A key reads ``jj_<prefix>_<secret>``: ``prefix`` is 8 hex digits, unique, stored in clear to
find the key's row and to name the key in lists and logs; ``secret`` is 32 random bytes
(URL-safe base64). The row holds ``scrypt(secret, salt)`` with a random 16-byte salt per key
(``scrypt$<n>$<r>$<p>$<salt>$<hash>``, base64). Why scrypt and not a keyed fast hash (HMAC with
a server-side pepper): a stolen registry dump then gives nothing to test guesses against
quickly, and no second secret must be deployed next to the database. The cost (some 20-50 ms
per check) is paid once per key and process: the API keeps keys it has checked for a short
while (api/auth.py), so a request with a known key costs a dictionary look-up.

The key's secret is shown once, when it is made; it cannot be shown again (lost: revoke it
and make another).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from registry.models import ROLES, ApiKey

#: scrypt's cost: n=2^14, r=8, p=1 (16 MiB of memory per check), the interactive-login
#: setting of the scrypt paper.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PREFIX_HEX = 8
RANK = {role: rank for rank, role in enumerate(ROLES)}  # viewer < operator < admin


@dataclass(frozen=True)
class KeyInfo:
    """A key as lists show it: never its secret nor its hash."""

    id: str
    prefix: str
    role: str
    contact: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyProblem(ValueError):
    """A key that cannot be made or revoked; ``key`` names the catalogue message."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, _unb64(digest))


def split(presented: str) -> tuple[str, str] | None:
    """``jj_<prefix>_<secret>`` -> (prefix, secret); None when it is not of that form."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "jj" or len(parts[1]) != PREFIX_HEX or not parts[2]:
        return None
    if any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[1], parts[2]


def create(
    engine: Engine, role: str, name: str | None = None, contact: str | None = None
) -> tuple[KeyInfo, str]:
    """A new key: its row, and the whole key (``jj_<prefix>_<secret>``), to show once."""
    from registry.models import Contact

    if role not in RANK:
        raise KeyProblem("registry.key.err.role", role=role, roles=", ".join(ROLES))
    with Session(engine) as session:
        if contact is not None and session.get(Contact, contact) is None:
            raise KeyProblem("registry.key.err.contact", contact=contact)
        while True:
            prefix = secrets.token_hex(PREFIX_HEX // 2)
            if session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) is None:
                break
        key_id = name or f"key-{prefix}"
        if session.get(ApiKey, key_id) is not None:
            raise KeyProblem("registry.key.err.name", name=key_id)
        secret = secrets.token_urlsafe(32)
        row = ApiKey(
            id=key_id,
            prefix=prefix,
            key_hash=hash_secret(secret),
            role=role,
            contact_id=contact,
            created_at=dt.datetime.now(dt.UTC),
            revoked_at=None,
        )
        session.add(row)
        session.commit()
        return _info(row), f"jj_{prefix}_{secret}"


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.prefix, row.role, row.contact_id, row.created_at, row.revoked_at)


def all_keys(engine: Engine) -> list[KeyInfo]:
    with Session(engine) as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
        return [_info(row) for row in rows]


def revoke(engine: Engine, prefix: str) -> KeyInfo:
    """Revokes the key with this prefix (or id); revoking twice keeps the first time."""
    with Session(engine) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        row = row or session.get(ApiKey, prefix)
        if row is None:
            raise KeyProblem("registry.key.err.unknown", prefix=prefix)
        if row.revoked_at is None:
            row.revoked_at = dt.datetime.now(dt.UTC)
            session.commit()
        return _info(row)


def check(engine: Engine, presented: str) -> KeyInfo | None:
    """The key's row when *presented* is a valid key that is not revoked; else None. Costs
    one scrypt when the prefix exists."""
    parts = split(presented)
    if parts is None:
        return None
    prefix, secret = parts
    with Session(engine) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if row is None or row.revoked_at is not None:
            return None
        if not secret_matches(secret, row.key_hash):
            return None
        return _info(row)
