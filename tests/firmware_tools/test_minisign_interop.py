"""Interoperability with the stock ``minisign`` tool (Debian package minisign, installed by
scripts/install-system-deps.sh), both ways: minisign verifies what we sign, and we accept
what ``minisign -S`` signs, with keys made by either side."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_tools.bundle import (
    BundleError,
    Check,
    PublicKey,
    SecretKey,
    make_manifest,
    verify_bundle,
    write_key_pair,
)
from firmware_tools.bundle.manifest import build_container
from tests.firmware_tools.bundles import NOW, TARGET, make_bundle

MINISIGN = shutil.which("minisign")
# A low scrypt cost for the tests' keys: minisign reads the limits from the key file.
LOW = {"opslimit": 1 << 20, "memlimit": 1 << 24}


def minisign(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert MINISIGN, "minisign is missing: run scripts/install-system-deps.sh"
    return subprocess.run(
        [MINISIGN, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_minisign_verifies_our_bundles_and_prints_the_manifest_summary(tmp_path: Path) -> None:
    made = make_bundle(tmp_path)
    pub = tmp_path / "k.pub"
    pub.write_text(made.key.public_key.dump())
    done = minisign("-Vm", str(made.path), "-p", str(pub))
    assert done.returncode == 0, done.stderr
    assert f"target={TARGET} version=1.4.0 counter=7" in done.stdout
    data = bytearray(made.path.read_bytes())
    data[600] ^= 0x40
    made.path.write_bytes(bytes(data))
    assert minisign("-Vm", str(made.path), "-p", str(pub)).returncode != 0


def _unsigned_bundle(path: Path) -> bytes:
    image = b"\x7fELF" + bytes(range(200)) * 10
    manifest = make_manifest(
        image,
        "node.bin",
        target=TARGET,
        version="2.0.0",
        counter=9,
        valid_for=__import__("datetime").timedelta(days=30),
        now=NOW,
    )
    path.write_bytes(build_container(manifest, image))
    return image


def test_we_accept_what_minisign_signs_with_its_own_key(tmp_path: Path, verifier: str) -> None:
    made = minisign("-G", "-W", "-p", str(tmp_path / "m.pub"), "-s", str(tmp_path / "m.key"))
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "b.jjfw"
    image = _unsigned_bundle(bundle)
    signed = minisign("-Sm", str(bundle), "-s", str(tmp_path / "m.key"), "-t", "by minisign")
    assert signed.returncode == 0, signed.stderr
    key = PublicKey.parse((tmp_path / "m.pub").read_text())
    verified = verify_bundle(bundle, [key], TARGET, 9, NOW, verifier=verifier)
    assert verified.image == image and verified.trusted_comment == "by minisign"
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle, [key], TARGET, 10, NOW, verifier=verifier)
    assert info.value.check is Check.DOWNGRADE


def test_minisign_signs_with_our_password_protected_key(tmp_path: Path, verifier: str) -> None:
    secret, public = tmp_path / "keys" / "f.key", tmp_path / "keys" / "f.pub"
    write_key_pair(secret, public, "sandi-rahasia", **LOW)
    assert secret.stat().st_mode & 0o777 == 0o600
    bundle = tmp_path / "b.jjfw"
    _unsigned_bundle(bundle)
    bad = minisign("-Sm", str(bundle), "-s", str(secret), stdin="salah\n")
    assert bad.returncode != 0
    good = minisign("-Sm", str(bundle), "-s", str(secret), stdin="sandi-rahasia\n")
    assert good.returncode == 0, good.stderr
    key = PublicKey.parse(public.read_text())
    verified = verify_bundle(bundle, [key], TARGET, None, NOW, verifier=verifier)
    assert verified.manifest.version == "2.0.0"


def test_we_sign_with_a_key_minisign_made(tmp_path: Path) -> None:
    made = minisign("-G", "-W", "-p", str(tmp_path / "m.pub"), "-s", str(tmp_path / "m.key"))
    assert made.returncode == 0, made.stderr
    key = SecretKey.parse((tmp_path / "m.key").read_text())
    bundle = make_bundle(tmp_path, key=key)
    done = minisign("-Vm", str(bundle.path), "-p", str(tmp_path / "m.pub"))
    assert done.returncode == 0, done.stderr


def test_the_commands_end_to_end_keygen_package_minisign_verify(tmp_path: Path, capsys) -> None:
    from jagajalan.cli import main

    keys = tmp_path / "keys"
    assert main(["firmware", "keygen", "--out", str(keys), "--no-password"]) == 0
    image = tmp_path / "node-1.4.0.bin"
    image.write_bytes(bytes(range(256)) * 300)
    bundle = tmp_path / "node-1.4.0.jjfw"
    secret = keys / "jagajalan-firmware.key"
    args = [
        "firmware",
        "package",
        str(image),
        "--out",
        str(bundle),
        "--secret-key",
        str(secret),
        "--target",
        TARGET,
        "--version",
        "1.4.0",
        "--counter",
        "3",
    ]
    assert main(args) == 0
    done = minisign("-Vm", str(bundle), "-p", str(keys / "jagajalan-firmware.pub"))
    assert done.returncode == 0 and "counter=3" in done.stdout
    verify = ["firmware", "verify", str(bundle), "--key", str(keys), "--target", TARGET]
    assert main([*verify, "--installed-counter", "3"]) == 0
    assert main([*verify, "--installed-counter", "4"]) == 1
    assert main([*verify, "--at", "2099-01-01T00:00:00Z"]) == 1
    err = capsys.readouterr().err
    assert "[downgrade]" in err and "[expired]" in err
    bad = [*args[:-1], "-1"]  # a negative counter: refused, nothing written
    bundle.unlink()
    assert main(bad) == 2
    assert not bundle.exists() and "--counter" in capsys.readouterr().err
