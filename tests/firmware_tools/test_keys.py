"""Secret keys stay out of the repository and private; the gateway needs only public keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.bundle import load_public_keys, write_key_pair
from firmware_tools.bundle.keys import read_secret_key, secret_key_text
from jagajalan.cli import main
from kernel.text import TextError

REPO = Path(__file__).resolve().parents[2]
LOW = {"opslimit": 1 << 20, "memlimit": 1 << 24}


def test_keygen_refuses_a_secret_key_inside_a_git_work_tree(capsys) -> None:
    target = REPO / "var" / "keys-test"
    assert main(["firmware", "keygen", "--out", str(target), "--no-password"]) == 2
    assert not target.exists()
    assert "repositori git" in capsys.readouterr().err


def test_keygen_writes_0600_never_overwrites_and_the_gateway_reads_the_public_key(
    tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "k"
    assert main(["firmware", "keygen", "--out", str(folder), "--no-password"]) == 0
    secret = folder / "jagajalan-firmware.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    before = secret.read_bytes()
    assert main(["firmware", "keygen", "--out", str(folder), "--no-password"]) == 2
    assert secret.read_bytes() == before
    (key,) = load_public_keys([folder])
    assert read_secret_key(secret_key_text(secret), None, secret).public_key == key
    assert "tanpa kata sandi" in capsys.readouterr().err


def test_a_secret_key_others_can_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "s.key"
    write_key_pair(secret, tmp_path / "s.pub", None)
    secret.chmod(0o644)
    with pytest.raises(TextError, match="chmod 600"):
        secret_key_text(secret)


def test_a_password_protected_key_needs_the_right_password(tmp_path: Path) -> None:
    secret = tmp_path / "s.key"
    key = write_key_pair(secret, tmp_path / "s.pub", "benar", **LOW)
    text = secret_key_text(secret)
    assert read_secret_key(text, "benar", secret) == key
    with pytest.raises(TextError, match="wrong password"):
        read_secret_key(text, "salah", secret)
    with pytest.raises(TextError, match="password is needed"):
        read_secret_key(text, None, secret)
