"""The webhook's signature: HMAC-SHA256 over ``<timestamp>.<body>`` with a shared secret.

Headers of every webhook request (docs/alerts.md, "Webhook"):

- ``X-JagaJalan-Timestamp``: the send time, whole seconds since 1970-01-01 UTC;
- ``X-JagaJalan-Signature``: ``sha256=`` and the hex HMAC-SHA256 of the timestamp's ASCII, a
  dot, and the raw body bytes, keyed with the secret;
- ``X-JagaJalan-Idempotency-Key``: the notification's key (the same on every retry).

A receiver recomputes the HMAC over the bytes it received (before parsing the JSON), compares
in constant time, and refuses a timestamp older than its tolerance (a replay). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP = "X-JagaJalan-Timestamp"
SIGNATURE = "X-JagaJalan-Signature"
IDEMPOTENCY_KEY = "X-JagaJalan-Idempotency-Key"
#: Seconds a receiver accepts between the timestamp and its own clock (either way).
TOLERANCE_S = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: bytes,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now_s: float,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """True when *signature* is *body*'s at *timestamp*, and *timestamp* is recent."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
