"""``gateway-update --command FILE``: the desired-version command the gateway received on its
``cmd`` topic (docs/protocol.md, 1.1) and wrote beside its spool, turned into a bundle on disk.

The command is checked first (its minisign signature with this gateway's firmware public keys,
that it names this gateway, that it has not expired); then, unless it was already applied (its
version runs, or an update to its version was rolled back: a release that failed its health
check here is not tried again on every reconnect), the bundle it names is located (a local
path) or downloaded with httpx (an ``http(s)`` URL, its ``.minisig`` beside it) into
``<root>/downloads``, its SHA-256 compared with the command's, and handed to the normal
verified update.
"""

from __future__ import annotations

import hashlib
import os
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from firmware_tools.gateway_update.layout import Layout
from firmware_tools.gateway_update.updater import UpdateError
from firmware_tools.rollout.command import Command, CommandError, decode

MAX_COMMAND = 16 * 1024  # bytes; a command is a few hundred
MAX_DOWNLOAD = 512 * 1024 * 1024  # bytes; a gateway release is tens of MB


def gateway_id_of(config: Path) -> str:
    """``[gateway] id`` of the gateway's config (which gateway this updater serves)."""
    try:
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UpdateError("update.no_gateway_id", f"{config}: {exc}") from None
    gateway = doc.get("gateway")
    gateway_id = gateway.get("id") if isinstance(gateway, dict) else None
    if not isinstance(gateway_id, str) or not gateway_id:
        raise UpdateError("update.no_gateway_id", f"{config}: [gateway] id = {gateway_id!r}")
    return gateway_id


def read_command(path: Path, gateway: str, keys: list, verifier: str | None = None) -> Command:
    """The checked command in *path* (UpdateError ``update.command_refused`` naming the check
    that failed: format, signature, gateway, expired)."""
    from firmware_tools.bundle.backends import NoVerifier
    from firmware_tools.rollout.signing import checker

    try:
        with path.open("rb") as file:
            payload = file.read(MAX_COMMAND + 1)
    except OSError as exc:
        raise UpdateError("update.command_unreadable", f"{path}: {exc.strerror}") from None
    if len(payload) > MAX_COMMAND:
        raise UpdateError("update.command_refused", f"format: > {MAX_COMMAND} B")
    try:
        check = checker(keys, verifier)
    except NoVerifier as exc:
        raise UpdateError("update.no_verifier", str(exc)) from None
    try:
        return decode(payload, gateway=gateway, now_ms=int(time.time() * 1000), check=check)
    except CommandError as exc:
        raise UpdateError("update.command_refused", str(exc)) from None


def already_applied(layout: Layout, command: Command) -> str | None:
    """``running`` or ``rolled_back`` when the command must not be applied (again), else None."""
    if layout.current_version() == command.version:
        return "running"
    journal = layout.read_journal()
    if journal is not None and journal.new == command.version and journal.phase == "rolled_back":
        return "rolled_back"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, dest: Path, timeout: float) -> None:
    import httpx

    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise UpdateError("update.download_failed", f"{url}: HTTP {response.status_code}")
            size = 0
            with tmp.open("wb") as out:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_DOWNLOAD:
                        raise UpdateError("update.download_failed", f"{url}: > {MAX_DOWNLOAD} B")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, dest)
    except httpx.HTTPError as exc:
        raise UpdateError("update.download_failed", f"{url}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def locate_bundle(command: Command, layout: Layout, timeout: float = 300.0) -> Path:
    """The bundle the command names, on disk with its ``.minisig`` beside it, its SHA-256 the
    command's (UpdateError ``update.download_failed`` / ``update.command_sha256``)."""
    where = urlsplit(command.bundle)
    if where.scheme in ("http", "https"):
        name = Path(where.path).name
        if not name.endswith(".jjfw"):
            raise UpdateError("update.command_refused", f"format: bundle {command.bundle}")
        folder = layout.root / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():  # one download at a time: small SD cards
            if old.name not in (name, f"{name}.minisig"):
                old.unlink(missing_ok=True)
        bundle = folder / name
        if not (bundle.exists() and _sha256(bundle) == command.sha256):
            _download(command.bundle, bundle, timeout)
        _download(command.bundle + ".minisig", folder / f"{name}.minisig", timeout)
    elif where.scheme in ("", "file"):
        bundle = Path(where.path if where.scheme == "file" else command.bundle)
        if not bundle.is_file():
            raise UpdateError("update.download_failed", f"{bundle}: no such file")
    else:
        raise UpdateError("update.command_refused", f"format: bundle {command.bundle}")
    got = _sha256(bundle)
    if got != command.sha256:
        raise UpdateError("update.command_sha256", f"{bundle}: {got[:16]} != {command.sha256[:16]}")
    return bundle
