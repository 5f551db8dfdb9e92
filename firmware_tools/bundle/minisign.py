"""The minisign file formats (https://jedisct1.github.io/minisign/), so that the stock
``minisign`` tool verifies what JagaJalan signs and JagaJalan verifies what ``minisign -S``
signs.

- public key: ``untrusted comment: ...`` then base64(``"Ed"`` + key id (8) + Ed25519 key (32));
- secret key: ``untrusted comment: ...`` then base64(``"Ed"`` + kdf (``"Sc"`` scrypt, or two
  zero bytes: no password) + ``"B2"`` + salt (32) + opslimit (8, LE) + memlimit (8, LE) +
  [key id (8) + secret key (64: seed + public key) + BLAKE2b-256 checksum (32)], the bracket
  XORed with scrypt(password) when the kdf is ``"Sc"``);
- signature: ``untrusted comment: ...``, base64(``"ED"`` + key id + Ed25519(BLAKE2b-512(file))),
  ``trusted comment: <text>``, base64(Ed25519(signature + text)): the global signature, which
  makes the trusted comment part of what is signed.

Only the prehashed algorithm ``"ED"`` (minisign's default since 0.8) is accepted; the legacy
``"Ed"`` signature of the raw file is refused. Pure: no file I/O (callers read and write).
Ed25519 comes from ``cryptography``, imported when first needed: a 32-bit ARM gateway has no
cryptography (no wheel of its cffi) and checks signatures with the ``minisign`` tool instead
(:mod:`.backends`); only signing, making and reading secret keys and
:meth:`PublicKey.verify` need it (error code ``cryptography``). BLAKE2b and scrypt come from
:mod:`hashlib`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from dataclasses import dataclass
from types import ModuleType

SIG_ALG = b"Ed"
PREHASHED = b"ED"
KDF_SCRYPT = b"Sc"
KDF_NONE = b"\0\0"
CHECKSUM_ALG = b"B2"
#: minisign's own scrypt limits (libsodium's "sensitive" ones: about 1 GiB of memory).
OPSLIMIT = 33_554_432
MEMLIMIT = 1_073_741_824
UNTRUSTED = "untrusted comment: "
TRUSTED = "trusted comment: "


class MinisignError(ValueError):
    """A key or signature file that is not minisign's format, or a signature that does not
    match, or a missing library. :attr:`code` says which: ``format``, ``password``,
    ``signature``, ``trusted``, ``cryptography`` (not installed here)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _ed25519() -> ModuleType:
    """cryptography's Ed25519, or ``MinisignError("cryptography")`` where it is missing."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise MinisignError(
            "cryptography",
            "the Python package cryptography is not installed here: making keys and signing "
            "need it (on the signer's computer: pip install -c requirements.lock cryptography)",
        ) from None
    return ed25519


def _raw_public(public_key: object) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[attr-defined]


def _b64(line: str, what: str) -> bytes:
    """Strict, canonical base64: any changed character changes the bytes or is refused."""
    try:
        data = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise MinisignError("format", f"{what}: not base64") from None
    if base64.b64encode(data).decode("ascii") != line:
        raise MinisignError("format", f"{what}: not canonical base64")
    return data


def _lines(text: str, count: int, what: str) -> list[str]:
    # strict: lines end with "\n" only (as minisign writes them), one final newline at most
    lines = text.removesuffix("\n").split("\n")
    if len(lines) != count:
        raise MinisignError("format", f"{what}: {len(lines)} lines, {count} expected")
    if not lines[0].startswith(UNTRUSTED):
        raise MinisignError("format", f"{what}: first line is not '{UNTRUSTED.strip()}'")
    return lines


def key_id_hex(key_id: bytes) -> str:
    """The key id as minisign prints it (a little-endian 64-bit number in hex)."""
    return key_id[::-1].hex().upper()


@dataclass(frozen=True)
class PublicKey:
    key_id: bytes
    key: bytes  # 32 bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """A public key file, or its base64 line alone (as ``minisign -P`` takes it)."""
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) == 2 and lines[0].startswith(UNTRUSTED):
            lines = lines[1:]
        if len(lines) != 1:
            raise MinisignError("format", "public key: one base64 line expected")
        data = _b64(lines[0].strip(), "public key")
        if len(data) != 42 or data[:2] != SIG_ALG:
            raise MinisignError("format", "public key: not an Ed25519 minisign key")
        return cls(data[2:10], data[10:])

    def dump(self) -> str:
        blob = base64.b64encode(SIG_ALG + self.key_id + self.key).decode("ascii")
        return f"{UNTRUSTED}minisign public key {key_id_hex(self.key_id)}\n{blob}\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        ed25519 = _ed25519()
        from cryptography.exceptions import InvalidSignature

        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SecretKey:
    key_id: bytes
    seed: bytes  # 32 bytes: the Ed25519 private key
    public: bytes  # 32 bytes

    @classmethod
    def generate(cls) -> SecretKey:
        private = _ed25519().Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(secrets.token_bytes(8), seed, _raw_public(private.public_key()))

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.key_id, self.public)

    def _checksum(self) -> bytes:
        return hashlib.blake2b(
            SIG_ALG + self.key_id + self.seed + self.public, digest_size=32
        ).digest()

    def dump(self, password: str | None, opslimit: int = OPSLIMIT, memlimit: int = MEMLIMIT) -> str:
        """The secret key file; encrypted with scrypt when *password* is given (minisign's
        limits by default: they are written into the file, so minisign reads lower ones too)."""
        salt = secrets.token_bytes(32)
        keynum = self.key_id + self.seed + self.public + self._checksum()
        if password is None:
            kdf, opslimit, memlimit = KDF_NONE, 0, 0
        else:
            kdf = KDF_SCRYPT
            keynum = _xor(keynum, _scrypt(password, salt, opslimit, memlimit))
        blob = SIG_ALG + kdf + CHECKSUM_ALG + salt + struct.pack("<QQ", opslimit, memlimit)
        text = base64.b64encode(blob + keynum).decode("ascii")
        comment = "minisign encrypted secret key" if password else "minisign secret key"
        return f"{UNTRUSTED}{comment}\n{text}\n"

    @staticmethod
    def encrypted(text: str) -> bool:
        data = _b64(_lines(text, 2, "secret key")[1], "secret key")
        return data[2:4] == KDF_SCRYPT

    @classmethod
    def parse(cls, text: str, password: str | None = None) -> SecretKey:
        data = _b64(_lines(text, 2, "secret key")[1], "secret key")
        if len(data) != 158 or data[:2] != SIG_ALG or data[4:6] != CHECKSUM_ALG:
            raise MinisignError("format", "secret key: not an Ed25519 minisign secret key")
        kdf, salt = data[2:4], data[6:38]
        opslimit, memlimit = struct.unpack("<QQ", data[38:54])
        keynum = data[54:]
        if kdf == KDF_SCRYPT:
            if password is None:
                raise MinisignError("password", "secret key: encrypted, a password is needed")
            keynum = _xor(keynum, _scrypt(password, salt, opslimit, memlimit))
        elif kdf != KDF_NONE:
            raise MinisignError("format", "secret key: unknown key derivation")
        key = cls(keynum[:8], keynum[8:40], keynum[40:72])
        # minisign -W (no password) leaves the checksum zero; the key pair is checked anyway
        unchecked = kdf == KDF_NONE and keynum[72:] == bytes(32)
        if not unchecked and not secrets.compare_digest(key._checksum(), keynum[72:]):
            what = "wrong password" if kdf == KDF_SCRYPT else "damaged key"
            raise MinisignError("password", f"secret key: {what}")
        derived = _ed25519().Ed25519PrivateKey.from_private_bytes(key.seed).public_key()
        if _raw_public(derived) != key.public:
            raise MinisignError("format", "secret key: damaged key (the key pair does not match)")
        return key

    def sign(self, data: bytes, trusted_comment: str, untrusted_comment: str = "") -> str:
        """The ``.minisig`` text for *data* (prehashed, with the global signature)."""
        if "\n" in trusted_comment or "\r" in trusted_comment:
            raise ValueError("a trusted comment is one line")
        private = _ed25519().Ed25519PrivateKey.from_private_bytes(self.seed)
        signature = private.sign(hashlib.blake2b(data, digest_size=64).digest())
        glob = private.sign(signature + trusted_comment.encode("utf-8"))
        comment = untrusted_comment or "signature from minisign secret key"
        return (
            f"{UNTRUSTED}{comment}\n"
            f"{base64.b64encode(PREHASHED + self.key_id + signature).decode('ascii')}\n"
            f"{TRUSTED}{trusted_comment}\n"
            f"{base64.b64encode(glob).decode('ascii')}\n"
        )


@dataclass(frozen=True)
class Signature:
    algorithm: bytes
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @classmethod
    def parse(cls, text: str) -> Signature:
        lines = _lines(text, 4, "signature")
        blob = _b64(lines[1], "signature")
        if len(blob) != 74:
            raise MinisignError("format", "signature: wrong length")
        if not lines[2].startswith(TRUSTED):
            raise MinisignError("format", f"signature: third line is not '{TRUSTED.strip()}'")
        glob = _b64(lines[3], "global signature")
        if len(glob) != 64:
            raise MinisignError("format", "global signature: wrong length")
        return cls(blob[:2], blob[2:10], blob[10:], lines[2][len(TRUSTED) :], glob)

    def verify(self, key: PublicKey, data: bytes) -> None:
        """Raise :class:`MinisignError` unless *key* signed *data* and the trusted comment."""
        if self.algorithm != PREHASHED:
            raise MinisignError(
                "format", "signature: only prehashed signatures ('ED') are accepted"
            )
        if self.key_id != key.key_id:
            raise MinisignError("format", "signature: made by another key")
        digest = hashlib.blake2b(data, digest_size=64).digest()
        if not key.verify(self.signature, digest):
            raise MinisignError("signature", "signature: does not match the file")
        if not key.verify(self.global_signature, self.signature + self.trusted_comment.encode()):
            raise MinisignError("trusted", "signature: the trusted comment was changed")


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def scrypt_params(opslimit: int, memlimit: int) -> tuple[int, int, int]:
    """(log2 N, r, p) from libsodium's opslimit and memlimit (its ``pickparams``)."""
    opslimit = max(opslimit, 32768)
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        max_n = opslimit // (r * 4)
    else:
        max_n = memlimit // (r * 128)
    n_log2 = 1
    while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
        n_log2 += 1
    if not opslimit < memlimit // 32:
        maxrp = min((opslimit // 4) // (1 << n_log2), 0x3FFFFFFF)
        p = maxrp // r
    return n_log2, r, p


def _scrypt(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    n_log2, r, p = scrypt_params(opslimit, memlimit)
    if n_log2 > 24 or p < 1 or p > 16:
        raise MinisignError("format", "secret key: scrypt limits out of bounds")
    need = 128 * r * (1 << n_log2) + 128 * r * p + 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << n_log2, r=r, p=p, maxmem=need, dklen=104
    )
