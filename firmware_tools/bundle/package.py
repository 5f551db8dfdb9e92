"""Building a signed bundle: ``<out>`` (tar of manifest.json + image) and ``<out>.minisig``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware_tools.bundle.manifest import Manifest, build_container, sha256
from firmware_tools.bundle.minisign import SecretKey
from firmware_tools.bundle.verify import signature_path


def make_manifest(
    image: bytes,
    image_name: str,
    *,
    target: str,
    version: str,
    counter: int,
    valid_for: timedelta,
    now: datetime | None = None,
    description: str = "",
) -> Manifest:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return Manifest(
        target=target,
        version=version,
        counter=counter,
        created=now,
        expires=now + valid_for,
        image=image_name,
        size=len(image),
        sha256=sha256(image),
        description=description,
    )


def sign_bundle(manifest: Manifest, image: bytes, key: SecretKey) -> tuple[bytes, str]:
    """(bundle bytes, ``.minisig`` text)."""
    data = build_container(manifest, image)
    return data, key.sign(data, manifest.trusted_comment(), "jagajalan firmware bundle")


def write_bundle(out: Path, manifest: Manifest, image: bytes, key: SecretKey) -> Path:
    """Write *out* and its signature beside it; returns the signature's path."""
    data, sig = sign_bundle(manifest, image, key)
    out.write_bytes(data)
    sig_path = signature_path(out)
    sig_path.write_text(sig, encoding="utf-8")
    return sig_path
