"""Helpers of the rollout command tests: a firmware key, signed gateway bundles, signed
commands, and a loopback HTTP server that serves a folder (the bundles' download site)."""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from firmware_tools.bundle import SecretKey, make_manifest, write_bundle
from firmware_tools.rollout.command import Command, encode
from firmware_tools.rollout.signing import signer
from testkit.services import free_port

from .kit import release_image

TARGET = "gateway-test"


def write_keys(folder: Path, key: SecretKey) -> Path:
    keys = folder / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "jagajalan-firmware.pub").write_text(key.public_key.dump())
    return keys


def bundle(folder: Path, key: SecretKey, version: str, counter: int, behaviour="ok") -> Path:
    image = release_image(version, behaviour)
    manifest = make_manifest(
        image,
        f"jagajalan-gateway-{version}.tar.gz",
        target=TARGET,
        version=version,
        counter=counter,
        valid_for=timedelta(days=1),
    )
    out = folder / f"jagajalan-gateway-{version}.jjfw"
    write_bundle(out, manifest, image, key)
    return out


def command(
    key: SecretKey, gateway: str, version: str, where: str, path: Path, *, ttl_ms=3_600_000
) -> bytes:
    now = int(time.time() * 1000)
    return encode(
        Command(
            gateway=gateway,
            version=version,
            counter=1,
            bundle=where,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            rollout="r-test",
            issued=now,
            expires=now + ttl_ms,
        ),
        signer(key),
    )


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` serving *folder* until the block ends."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
