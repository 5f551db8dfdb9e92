"""The desired-version command's signature (docs/protocol.md, 1.1): minisign's ``.minisig`` text
made with the firmware signing key (the bundles' key), checked with the public keys a gateway
holds by whichever backend is installed there (cryptography, or the stock ``minisign`` tool on
32-bit ARM gateways: :mod:`firmware_tools.bundle.backends`)."""

from __future__ import annotations

from collections.abc import Iterable

from firmware_tools.bundle import backends
from firmware_tools.bundle.minisign import MinisignError, PublicKey, SecretKey, Signature
from firmware_tools.rollout.command import Check, Signer

#: The trusted comment of every command signature (says what the signed bytes are).
TRUSTED_COMMENT = "jagajalan desired-version command"


def signer(secret: SecretKey) -> Signer:
    def sign(data: bytes) -> str:
        return secret.sign(data, TRUSTED_COMMENT, "jagajalan command")

    return sign


def checker(keys: Iterable[PublicKey], verifier: str | None = None) -> Check:
    """A :data:`Check` with *keys*; raises :class:`backends.NoVerifier` when nothing here can
    check a signature."""
    backend = backends.choose(verifier)
    by_id = {key.key_id: key for key in keys}

    def check(data: bytes, sig_text: str) -> bool:
        try:
            sig = Signature.parse(sig_text)
        except MinisignError:
            return False
        key = by_id.get(sig.key_id)
        if key is None or sig.algorithm != b"ED":
            return False
        try:
            backends.check(backend, key, sig, sig_text.encode("utf-8"), data)
        except MinisignError:
            return False
        return True

    return check
