"""Checking a bundle before anything is written: signature, archive, manifest, hash, target,
expiry and anti-rollback counter, in that order. Reads the two files once into memory and
writes nothing. The signature is checked by cryptography or, where that is not installed
(32-bit ARM gateways), by the stock ``minisign`` tool (:mod:`.backends`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from firmware_tools.bundle import backends
from firmware_tools.bundle.manifest import (
    MAX_BUNDLE,
    ContainerError,
    Manifest,
    parse_manifest,
    read_container,
)
from firmware_tools.bundle.minisign import MinisignError, PublicKey, Signature, key_id_hex
from kernel.text import DEFAULT_LANG, Lang, T, Text


class Check(StrEnum):
    """The check a refused bundle failed (:attr:`BundleError.check`); the value is stable
    and goes into logs, status and exit messages."""

    NO_VERIFIER = "no_verifier"  # neither cryptography nor the minisign tool is installed
    UNREADABLE = "unreadable"  # the bundle or its .minisig cannot be read, or is too large
    SIGNATURE_FORMAT = "signature_format"  # the .minisig is not minisign's prehashed format
    UNKNOWN_KEY = "unknown_key"  # signed by a key that is not trusted here
    SIGNATURE = "signature"  # the signature does not match the bundle: tampered
    TRUSTED_COMMENT = "trusted_comment"  # the signed comment was changed
    CONTAINER = "container"  # not a tar of manifest.json + image
    MANIFEST = "manifest"  # manifest.json invalid
    IMAGE_HASH = "image_hash"  # image size or sha256 differs from the manifest
    TARGET = "target"  # made for another hardware target
    EXPIRED = "expired"  # past its expiry
    DOWNGRADE = "downgrade"  # counter lower than the installed one


class BundleError(Exception):
    """A refused bundle: :attr:`check` says which check failed, :attr:`text` the details in
    either language; ``str()`` is the English."""

    def __init__(self, check: Check, /, **args: object) -> None:
        self.check = check
        self.text = T(f"fw.check.{check.value}", **args)
        super().__init__(f"[{check.value}] {self.text.render('en')}")

    def render(self, lang: Lang = DEFAULT_LANG) -> str:
        return f"[{self.check.value}] {self.text.render(lang)}"


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check: its manifest and image, as read once."""

    manifest: Manifest
    image: bytes
    key_id: str  # hex, as minisign prints it
    trusted_comment: str

    def write_image(self, path: Path) -> Path:
        """Write the verified image to *path* (through a temporary file, then renamed)."""
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(self.image)
        tmp.replace(path)
        return path


def signature_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".minisig")


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BUNDLE:
            raise BundleError(Check.UNREADABLE, path=str(path), detail=f"> {MAX_BUNDLE} B")
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(Check.UNREADABLE, path=str(path), detail=exc.strerror or exc) from None


def verify_bundle(
    path: Path | str,
    public_keys: Iterable[PublicKey],
    target: str,
    installed_counter: int | None,
    now: datetime | None = None,
    signature: Path | str | None = None,
    verifier: str | None = None,
) -> VerifiedBundle:
    """The bundle at *path*, checked against its signature (default ``<path>.minisig``) made
    by one of *public_keys*, for hardware *target*, not expired at *now* (default: the clock)
    and with a counter not lower than *installed_counter* (None: nothing installed yet; an
    equal counter is allowed, to flash the same release again). Raises :class:`BundleError`.
    *verifier* picks who checks the signature (:data:`.backends.BACKENDS`); default:
    cryptography where it is installed, else the ``minisign`` tool."""
    try:
        backend = backends.choose(verifier)
    except backends.NoVerifier as exc:
        raise BundleError(Check.NO_VERIFIER, missing=str(exc)) from None
    path = Path(path)
    sig_path = Path(signature) if signature is not None else signature_path(path)
    sig_bytes = _read(sig_path)
    try:
        sig = Signature.parse(sig_bytes.decode("utf-8"))
    except (UnicodeDecodeError, MinisignError) as exc:
        raise BundleError(Check.SIGNATURE_FORMAT, path=str(sig_path), detail=str(exc)) from None
    if sig.algorithm != b"ED":
        raise BundleError(Check.SIGNATURE_FORMAT, path=str(sig_path), detail="legacy 'Ed'")
    keys = {k.key_id: k for k in public_keys}
    key = keys.get(sig.key_id)
    if key is None:
        known = ", ".join(key_id_hex(k) for k in keys) or "-"
        raise BundleError(Check.UNKNOWN_KEY, key=key_id_hex(sig.key_id), known=known)
    data = _read(path)
    try:
        backends.check(backend, key, sig, sig_bytes, data)
    except backends.NoVerifier as exc:
        raise BundleError(Check.NO_VERIFIER, missing=str(exc)) from None
    except MinisignError as exc:
        if exc.code == "trusted":
            raise BundleError(Check.TRUSTED_COMMENT, path=str(sig_path)) from None
        if exc.code == "format":
            raise BundleError(Check.SIGNATURE_FORMAT, path=str(sig_path), detail=str(exc)) from None
        raise BundleError(Check.SIGNATURE, path=str(path)) from None
    try:
        manifest_bytes, image_name, image = read_container(data)
    except ContainerError as exc:
        raise BundleError(Check.CONTAINER, detail=str(exc)) from None
    try:
        manifest = parse_manifest(manifest_bytes)
    except ValueError as exc:
        raise BundleError(Check.MANIFEST, detail=str(exc)) from None
    digest = hashlib.sha256(image).hexdigest()
    if image_name != manifest.image or len(image) != manifest.size or digest != manifest.sha256:
        raise BundleError(Check.IMAGE_HASH, name=image_name, sha256=digest[:16])
    if manifest.target != target:
        raise BundleError(Check.TARGET, got=manifest.target, want=target)
    now = now or datetime.now(UTC)
    if now >= manifest.expires:
        raise BundleError(Check.EXPIRED, expires=manifest.expires.isoformat())
    if installed_counter is not None and manifest.counter < installed_counter:
        raise BundleError(Check.DOWNGRADE, counter=manifest.counter, installed=installed_counter)
    return VerifiedBundle(manifest, image, key_id_hex(sig.key_id), sig.trusted_comment)


def describe(bundle: VerifiedBundle) -> Text:
    m = bundle.manifest
    return T(
        "fw.verify.ok",
        target=m.target,
        version=m.version,
        counter=m.counter,
        expires=m.expires.isoformat(),
        key=bundle.key_id,
    )
