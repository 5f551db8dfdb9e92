"""Helpers of the bundle tests: a key pair and a bundle built in a temporary folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware_tools.bundle import SecretKey, make_manifest, write_bundle

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
TARGET = "stm32f103-node"


@dataclass
class Made:
    path: Path
    signature: Path
    key: SecretKey
    image: bytes


def make_bundle(
    folder: Path,
    image: bytes = bytes(range(256)) * 64,
    *,
    key: SecretKey | None = None,
    target: str = TARGET,
    counter: int = 7,
    valid_for: timedelta = timedelta(days=30),
    name: str = "node.jjfw",
) -> Made:
    key = key or SecretKey.generate()
    manifest = make_manifest(
        image,
        "node.bin",
        target=target,
        version="1.4.0",
        counter=counter,
        valid_for=valid_for,
        now=NOW,
    )
    path = folder / name
    signature = write_bundle(path, manifest, image, key)
    return Made(path, signature, key, image)
