"""A gateway's MQTT credentials: a random password, its entry for Mosquitto's password file,
and the ``[gateway]`` and ``[mqtt]`` tables of the gateway's config for the technician.

The entry is Mosquitto 2's own format (``mosquitto_passwd``): ``<user>:$7$<iterations>$<salt>$
<hash>``, PBKDF2-HMAC-SHA512 with a 12-byte salt, base64. The username is the gateway id, and
the broker's ACL needs no entry per gateway: the shipped ``deploy/mosquitto/acl.example``
pattern rules (``pattern write jagajalan/v1/%u/readings`` ...) give each user its own
subtree. Pure except :func:`write_entry`, which rewrites the password file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

ITERATIONS = 101  # mosquitto_passwd's default
SALT_BYTES = 12


def new_password() -> str:
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``$7$<iterations>$<salt>$<hash>``, as ``mosquitto_passwd`` writes it."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def with_entry(text: str, user: str, hashed: str) -> str:
    """The password file *text* with *user*'s line set to *hashed* (added, or replaced)."""
    lines = [line for line in text.splitlines() if line.split(":", 1)[0] != user]
    return "\n".join([*lines, f"{user}:{hashed}"]) + "\n"


def write_entry(path: Path, user: str, password: str) -> None:
    """Sets *user*'s password in the Mosquitto password file *path* (created, mode 600)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = path.with_name(path.name + ".new")
    new.write_text(with_entry(text, user, mosquitto_hash(password)), encoding="utf-8")
    new.chmod(0o600)
    new.replace(path)


def _toml(value: object) -> str:
    import json

    return repr(value) if isinstance(value, float) else json.dumps(value, ensure_ascii=False)


def gateway_config(
    gateway: str,
    site: str | None,
    latitude: float | None,
    longitude: float | None,
    broker_url: str,
    password_file: str,
) -> str:
    """The ``[gateway]`` and ``[mqtt]`` tables of the gateway's config (docs/configuration.md);
    the devices are the technician's to add (``jagajalan gateway scan`` finds Modbus ones)."""
    lines = ["[gateway]", f"id = {_toml(gateway)}"]
    if site is not None:
        lines.append(f"site = {_toml(site)}")
    if latitude is not None and longitude is not None:
        lines += [f"latitude = {_toml(latitude)}", f"longitude = {_toml(longitude)}"]
    lines += [
        "",
        "[mqtt]",
        f"url = {_toml(broker_url)}",
        f"username = {_toml(gateway)}",
        f"password_file = {_toml(password_file)}",
    ]
    return "\n".join(lines) + "\n"


def acl_lines(gateway: str) -> str:
    """The gateway's own ACL entry, for a broker without the shipped pattern rules
    (``deploy/mosquitto/acl.example`` gives every user the same subtree already)."""
    from telemetry import topics

    return (
        "\n".join(
            [
                f"user {gateway}",
                f"topic write {topics.readings(gateway)}",
                f"topic write {topics.status(gateway)}",
                f"topic read {topics.command(gateway)}",
            ]
        )
        + "\n"
    )
