"""Secrets in logs: every line of every log a run wrote, searched for the run's passwords
(as given, and as they would look percent- or base64-encoded in a URL or a header)."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path


def forms(secret: str, user: str = "") -> set[str]:
    """*secret* and the encodings it could leak under: percent-encoded (a URL), base64 alone
    or as *user*'s HTTP Basic credentials."""
    out = {secret, urllib.parse.quote(secret, safe="")}
    for plain in (secret, f":{secret}", f"{user}:{secret}"):
        out.add(base64.b64encode(plain.encode()).decode().rstrip("="))
    return {f for f in out if len(f) >= 8}


def leaks(files: Iterable[Path], secrets: Mapping[str, str]) -> list[str]:
    """``file:line: <whose> secret`` for every log line holding one of *secrets* (user ->
    password); empty when none does."""
    wanted = {form: name for name, value in secrets.items() for form in forms(value, name)}
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            names = sorted({name for form, name in wanted.items() if form in line})
            found += [f"{path}:{number}: the secret of {name}" for name in names]
    return found
