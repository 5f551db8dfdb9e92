"""The manifest of a firmware bundle and the bundle's container (an uncompressed tar).

A bundle ``<name>.jjfw`` is a POSIX tar archive of exactly two regular files:
``manifest.json`` first, then the image under the name the manifest gives. ``tar tvf`` lists
it; the signature ``<name>.jjfw.minisig`` covers the whole file. Pure: no file I/O.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

FORMAT = "jagajalan-firmware/1"
MANIFEST_NAME = "manifest.json"
#: Largest bundle read (an STM32/ESP32 image is a few MB, a gateway release tens of MB).
MAX_BUNDLE = 256 * 1024 * 1024

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class Manifest(BaseModel):
    """What the bundle is for, and the limits of its use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["jagajalan-firmware/1"] = FORMAT
    target: Name = Field(description="hardware target, e.g. stm32f103-node or gateway-arm64")
    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
    counter: int = Field(
        ge=0, le=2**32 - 1, description="anti-rollback counter: never lower than installed"
    )
    created: AwareDatetime
    expires: AwareDatetime = Field(description="after this instant the bundle is refused")
    image: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    description: str = Field("", max_length=200)

    def trusted_comment(self) -> str:
        """A one-line summary signed with the bundle (``minisign -V`` prints it)."""
        return (
            f"jagajalan-firmware target={self.target} version={self.version} "
            f"counter={self.counter} expires={_stamp(self.expires)} sha256={self.sha256[:16]}"
        )

    def dump(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ContainerError(ValueError):
    """A bundle whose archive is not two files, manifest.json and the image."""


def build_container(manifest: Manifest, image: bytes) -> bytes:
    """The tar bytes of a bundle; reproducible (fixed owner, mode and time)."""
    out = io.BytesIO()
    mtime = int(manifest.created.timestamp())
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in ((MANIFEST_NAME, manifest.dump()), (manifest.image, image)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def read_container(data: bytes) -> tuple[bytes, str, bytes]:
    """(manifest bytes, image name, image bytes) of a bundle's tar bytes."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            if len(members) != 2 or not all(m.isreg() for m in members):
                raise ContainerError("the archive must hold exactly two regular files")
            first, second = members
            if first.name != MANIFEST_NAME:
                raise ContainerError(f"the first file must be {MANIFEST_NAME}, not {first.name}")
            files = [tar.extractfile(m) for m in members]
            manifest, image = (f.read() if f else b"" for f in files)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ContainerError(f"not a bundle archive: {exc}") from None
    return manifest, second.name, image


def parse_manifest(data: bytes) -> Manifest:
    """The manifest; :class:`ValueError` with the first problem (key and message)."""
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or "manifest"
        raise ValueError(f"{key}: {error['msg']}") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
