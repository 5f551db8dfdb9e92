"""Firmware bundles: how long a gateway takes to check a bundle (the whole check of
``verify_bundle``: read, BLAKE2b-512 + Ed25519, tar, sha256, manifest) for a node image and a
gateway-sized release, the Python memory it takes at peak, and how long unlocking a
password-protected secret key takes with minisign's scrypt limits (the signer's wait)."""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from firmware_tools.bundle import SecretKey, make_manifest, verify_bundle, write_bundle


def verify_figures(folder: Path, size: int, label: str) -> None:
    key = SecretKey.generate()
    image = os.urandom(size)
    manifest = make_manifest(
        image,
        "image.bin",
        target="bench",
        version="1.0.0",
        counter=1,
        valid_for=timedelta(days=1),
    )
    path = folder / f"{label}.jjfw"
    write_bundle(path, manifest, image, key)
    del image
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        verify_bundle(path, [key.public_key], "bench", 1)
    seconds = (time.perf_counter() - start) / rounds
    tracemalloc.start()
    verify_bundle(path, [key.public_key], "bench", 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"bundle_verify_{label} {seconds * 1000:.1f} ms")
    print(f"bundle_verify_{label}_python_peak {peak / 1e6:.1f} MB (bundle {size / 1e6:.1f} MB)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        verify_figures(folder, 1_000_000, "1MB_node_image")
        verify_figures(folder, 64_000_000, "64MB_release")
    text = SecretKey.generate().dump("bench-password")
    start = time.perf_counter()
    SecretKey.parse(text, "bench-password")
    print(f"secret_key_unlock_minisign_limits {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
