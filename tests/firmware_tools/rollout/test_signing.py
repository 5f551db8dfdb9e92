"""The desired-version command's minisign signature, checked by each signature checker (the
cryptography library and the stock minisign tool, as on 32-bit ARM gateways): a command signed
with the firmware key decodes; changed bytes, another key and a damaged signature are refused."""

from __future__ import annotations

import time

import pytest

from firmware_tools.bundle import SecretKey
from firmware_tools.rollout.command import Command, CommandError, decode, encode
from firmware_tools.rollout.signing import checker, signer

NOW = int(time.time() * 1000)
COMMAND = Command("gw-1", "1.2.0", 3, "https://x/gw.jjfw", "a" * 64, "r1", NOW, NOW + 60_000)


def test_each_checker_accepts_the_firmware_key_and_nothing_else(verifier: str) -> None:
    key, other = SecretKey.generate(), SecretKey.generate()
    check = checker([key.public_key], verifier)
    payload = encode(COMMAND, signer(key))
    assert decode(payload, gateway="gw-1", now_ms=NOW, check=check) == COMMAND
    bad = {
        "changed": payload.replace(b"1.2.0", b"1.3.0"),
        "other key": encode(COMMAND, signer(other)),
        "damaged": payload.replace(b"untrusted comment", b"untrusted cmment"),
    }
    for name, data in bad.items():
        with pytest.raises(CommandError) as caught:
            decode(data, gateway="gw-1", now_ms=NOW, check=check)
        assert caught.value.reason == "signature", name
