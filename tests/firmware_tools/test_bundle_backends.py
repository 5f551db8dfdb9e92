"""Who checks a bundle's signature on a machine without cryptography (a 32-bit ARM gateway: no
cffi wheel for it): the stock minisign tool, else a refusal that says to install it; making keys
needs cryptography and says so.

cryptography is installed here; its absence is stood in for by making its import fail
(``sys.modules`` entry ``None``, which Python's import treats as "not installed"), and the
minisign tool's absence by a PATH without it. Everything else runs for real.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from firmware_tools.bundle import BundleError, Check, verify_bundle
from firmware_tools.bundle.backends import choose
from tests.firmware_tools.bundles import NOW, TARGET, make_bundle


@pytest.fixture
def no_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cryptography", "cryptography.hazmat.primitives.asymmetric"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_cryptography_the_minisign_tool_checks_the_bundle(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    made = make_bundle(tmp_path)  # signed while cryptography is there: the signer's computer
    bad = make_bundle(tmp_path, name="bad.jjfw")
    data = bytearray(bad.path.read_bytes())
    data[-100] ^= 0x01
    bad.path.write_bytes(bytes(data))
    request.getfixturevalue("no_cryptography")  # from here on, as on a 32-bit ARM gateway
    assert choose() == "minisign"
    verified = verify_bundle(made.path, [made.key.public_key], TARGET, 7, NOW)
    assert verified.image == made.image and "counter=7" in verified.trusted_comment
    with pytest.raises(BundleError) as info:
        verify_bundle(bad.path, [bad.key.public_key], TARGET, 7, NOW)
    assert info.value.check is Check.SIGNATURE


def test_without_either_checker_the_bundle_is_refused_with_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    made = make_bundle(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no minisign on it
    with pytest.raises(BundleError) as info:
        verify_bundle(made.path, [made.key.public_key], TARGET, 7, NOW, verifier="minisign")
    assert info.value.check is Check.NO_VERIFIER
    request.getfixturevalue("no_cryptography")
    with pytest.raises(BundleError) as info:
        verify_bundle(made.path, [made.key.public_key], TARGET, 7, NOW)
    assert info.value.check is Check.NO_VERIFIER
    assert "apt install minisign" in info.value.render("id")
    assert "apt install minisign" in info.value.render("en")
    assert info.value.render("id").startswith("[no_verifier] Tanda tangan paket")


def test_an_unknown_checker_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown signature checker 'gpg'"):
        choose("gpg")


def test_keygen_and_package_without_cryptography_say_to_sign_elsewhere(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    from firmware_tools.bundle import write_key_pair
    from jagajalan.cli import main

    write_key_pair(tmp_path / "k.key", tmp_path / "k.pub", None)
    (tmp_path / "node.bin").write_bytes(b"\x7fELF" * 100)
    request.getfixturevalue("no_cryptography")
    out = tmp_path / "keys"
    code = main(["firmware", "keygen", "--out", str(out), "--no-password", "--lang", "en"])
    assert code != 0
    err = capsys.readouterr().err
    assert "need the Python package `cryptography`" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    package = ["firmware", "package", str(tmp_path / "node.bin"), "--out", str(tmp_path / "n.jjfw")]
    package += ["--secret-key", str(tmp_path / "k.key"), "--target", TARGET, "--version", "1.0.0"]
    assert main([*package, "--counter", "1", "--lang", "en"]) != 0
    assert "need the Python package `cryptography`" in capsys.readouterr().err
    assert not (tmp_path / "n.jjfw").exists()
