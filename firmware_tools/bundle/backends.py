"""Who checks the two Ed25519 signatures of a ``.minisig`` (the file's, over its BLAKE2b-512,
and the global one, over that signature and the trusted comment):

- ``cryptography``: in Python (:meth:`PublicKey.verify`); every machine with a wheel of it;
- ``minisign``: the stock tool (Debian package ``minisign``), run as
  ``minisign -V -m /dev/stdin -x /dev/fd/N -P <key>`` on the very bytes the caller read (the
  bundle on stdin, the signature through a pipe), so what it checked is what gets used. For
  32-bit ARM gateways, where cryptography cannot be installed without a compiler (PyPI has no
  armv7l wheel of its cffi). The trusted comment it prints must equal the one parsed here.

The caller has parsed the signature (:class:`Signature`) and picked the key by its id first.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

from firmware_tools.bundle.minisign import SIG_ALG, MinisignError, PublicKey, Signature

CRYPTOGRAPHY = "cryptography"
MINISIGN = "minisign"
BACKENDS = (CRYPTOGRAPHY, MINISIGN)
#: Longest .minisig handed to the tool: it fits a pipe's buffer, and minisign reads a trusted
#: comment of at most 8 KiB anyway.
MAX_SIGNATURE = 16 * 1024
TIMEOUT = 120  # seconds; BLAKE2b of a few MB takes well under one on a Raspberry Pi


class NoVerifier(Exception):
    """Neither backend is available (or the one asked for is not)."""


def available(name: str) -> bool:
    if name == CRYPTOGRAPHY:
        try:
            from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(MINISIGN) is not None


def choose(name: str | None = None) -> str:
    """*name* if it is available here; without one, cryptography, else the minisign tool."""
    if name is not None and name not in BACKENDS:
        raise ValueError(f"unknown signature checker {name!r}: one of {', '.join(BACKENDS)}")
    for candidate in [name] if name else BACKENDS:
        if available(candidate):
            return candidate
    raise NoVerifier(name or " / ".join(BACKENDS))


def check(backend: str, key: PublicKey, sig: Signature, sig_bytes: bytes, data: bytes) -> None:
    """Raise :class:`MinisignError` (``signature``: the file's signature fails; ``trusted``: the
    global one; ``format``: the tool could not read the signature) unless *key* signed *data*
    and *sig*'s trusted comment. *sig* is *sig_bytes* parsed."""
    if backend == CRYPTOGRAPHY:
        sig.verify(key, data)
    else:
        _minisign(key, sig, sig_bytes, data)


def _minisign(key: PublicKey, sig: Signature, sig_bytes: bytes, data: bytes) -> None:
    if len(sig_bytes) > MAX_SIGNATURE:
        raise MinisignError("format", f"signature: longer than {MAX_SIGNATURE} bytes")
    binary = shutil.which(MINISIGN)
    if binary is None:
        raise NoVerifier(MINISIGN)
    public = base64.b64encode(SIG_ALG + key.key_id + key.key).decode("ascii")
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as pipe:  # fits the pipe's buffer: no reader needed yet
            pipe.write(sig_bytes)
        argv = [binary, "-V", "-m", "/dev/stdin", "-x", f"/dev/fd/{read_end}", "-P", public]
        done = subprocess.run(
            argv, input=data, capture_output=True, pass_fds=(read_end,), timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise MinisignError("signature", f"minisign: no answer in {TIMEOUT} s") from None
    except OSError as exc:
        raise NoVerifier(f"{MINISIGN}: {exc}") from None
    finally:
        os.close(read_end)
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        if "Comment signature verification failed" in err:
            raise MinisignError("trusted", "signature: the trusted comment was changed")
        if "Signature verification failed" in err:
            raise MinisignError("signature", "signature: does not match the file")
        raise MinisignError("format", f"minisign: {err or done.returncode}")
    prefix = "Trusted comment: "
    said = [line[len(prefix) :] for line in out.split("\n") if line.startswith(prefix)]
    if said != [sig.trusted_comment]:
        # the tool read another trusted comment than ours (a \r in it, say): not what was signed
        raise MinisignError("trusted", "signature: minisign read another trusted comment")
