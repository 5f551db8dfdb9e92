"""Key files: secret keys stay on the signer's computer (0600, outside any git work tree,
password-protected unless asked otherwise); gateways and laptops that flash hold only public
keys (``*.pub``, minisign's format, in :data:`firmware_tools.paths.PUBLIC_KEY_DIR` by
default)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from firmware_tools.bundle.minisign import MinisignError, PublicKey, SecretKey
from kernel.text import TextError


def git_work_tree(path: Path) -> Path | None:
    """The git work tree *path* would be in, if any (a secret key must never be there)."""
    for folder in [path.resolve().parent, *path.resolve().parent.parents]:
        if (folder / ".git").exists():
            return folder
    return None


def write_key_pair(
    secret_path: Path,
    public_path: Path,
    password: str | None,
    *,
    opslimit: int | None = None,
    memlimit: int | None = None,
) -> SecretKey:
    """A new key pair; the secret file is created 0600 (never over an existing file)."""
    if (tree := git_work_tree(secret_path)) is not None:
        raise TextError("fw.key.in_git", path=str(secret_path), tree=str(tree))
    for path in (secret_path, public_path):
        if path.exists():
            raise TextError("fw.key.exists", path=str(path))
    try:
        key = SecretKey.generate()
    except MinisignError:  # cryptography is missing (a 32-bit ARM gateway): sign elsewhere
        raise TextError("fw.key.no_cryptography") from None
    limits = {k: v for k, v in (("opslimit", opslimit), ("memlimit", memlimit)) if v}
    text = key.dump(password, **limits)
    secret_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_text(key.public_key.dump(), encoding="ascii")
    return key


def secret_key_text(path: Path) -> str:
    """The secret key file's text; refused when others may read it (as ssh does)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TextError("fw.key.open_mode", path=str(path), mode=oct(mode & 0o777))
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TextError("fw.key.unreadable", path=str(path), detail=str(exc)) from None


def read_secret_key(text: str, password: str | None, path: Path) -> SecretKey:
    try:
        return SecretKey.parse(text, password)
    except MinisignError as exc:
        if exc.code == "cryptography":
            raise TextError("fw.key.no_cryptography") from None
        raise TextError("fw.key.bad", path=str(path), detail=str(exc)) from None


def load_public_keys(paths: Iterable[Path]) -> list[PublicKey]:
    """Every public key in *paths* (files, or folders of ``*.pub``)."""
    keys: list[PublicKey] = []
    for path in paths:
        files = sorted(path.glob("*.pub")) if path.is_dir() else [path]
        for file in files:
            try:
                keys.append(PublicKey.parse(file.read_text(encoding="ascii")))
            except (OSError, UnicodeDecodeError, MinisignError) as exc:
                raise TextError("fw.key.bad", path=str(file), detail=str(exc)) from None
    return keys
