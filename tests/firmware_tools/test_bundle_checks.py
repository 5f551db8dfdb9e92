"""Every check of verify_bundle refuses what it should, names itself, and accepts the rest, with
either signature checker (cryptography, or the minisign tool on 32-bit ARM gateways)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from firmware_tools.bundle import BundleError, Check, SecretKey, make_manifest, verify_bundle
from firmware_tools.bundle.manifest import build_container
from tests.firmware_tools.bundles import NOW, TARGET, make_bundle


def refused(made, verifier: str, **kw) -> Check:
    args = {
        "public_keys": [made.key.public_key],
        "target": TARGET,
        "installed_counter": 7,
        "now": NOW,
        "verifier": verifier,
    } | kw
    with pytest.raises(BundleError) as info:
        verify_bundle(made.path, **args)
    assert info.value.check.value in str(info.value)
    assert info.value.render("id") != info.value.render("en")
    return info.value.check


def test_a_good_bundle_is_accepted_with_its_image(tmp_path: Path, verifier: str) -> None:
    made = make_bundle(tmp_path)
    bundle = verify_bundle(made.path, [made.key.public_key], TARGET, 7, NOW, verifier=verifier)
    assert bundle.image == made.image
    assert bundle.manifest.counter == 7 and bundle.manifest.target == TARGET
    assert "counter=7" in bundle.trusted_comment
    again = verify_bundle(made.path, [made.key.public_key], TARGET, None, NOW, verifier=verifier)
    assert again.image == made.image


def test_tampered_image_is_refused_by_the_signature(tmp_path: Path, verifier: str) -> None:
    made = make_bundle(tmp_path)
    data = bytearray(made.path.read_bytes())
    data[-2000] ^= 0x01  # inside the image
    made.path.write_bytes(bytes(data))
    assert refused(made, verifier) is Check.SIGNATURE


def test_wrong_target_expired_and_downgrade_name_their_check(tmp_path: Path, verifier: str) -> None:
    made = make_bundle(tmp_path, counter=7, valid_for=timedelta(days=1))
    assert refused(made, verifier, target="esp32-node") is Check.TARGET
    assert refused(made, verifier, now=NOW + timedelta(days=1)) is Check.EXPIRED
    assert refused(made, verifier, installed_counter=8) is Check.DOWNGRADE


def test_another_key_and_a_changed_trusted_comment_are_refused(
    tmp_path: Path, verifier: str
) -> None:
    made = make_bundle(tmp_path)
    other = [SecretKey.generate().public_key]
    assert refused(made, verifier, public_keys=other) is Check.UNKNOWN_KEY
    signed = made.signature.read_text()
    lines = signed.splitlines()
    lines[2] = lines[2].replace("counter=7", "counter=9")
    made.signature.write_text("\n".join(lines) + "\n")
    assert refused(made, verifier) is Check.TRUSTED_COMMENT
    # minisign reads a trusted comment up to a carriage return and accepts the signature; the
    # text after it was never signed, so the comment it printed must equal ours
    lines = signed.splitlines()
    lines[2] += "\rcounter=99"
    made.signature.write_text("\n".join(lines) + "\n")
    assert refused(made, verifier) is Check.TRUSTED_COMMENT


def test_a_missing_signature_is_unreadable(tmp_path: Path, verifier: str) -> None:
    made = make_bundle(tmp_path)
    made.signature.unlink()
    assert refused(made, verifier) is Check.UNREADABLE


def _sign_raw(made, data: bytes) -> None:
    """Sign arbitrary bytes with the trusted key: what a careless signer could ship."""
    made.path.write_bytes(data)
    made.signature.write_text(made.key.sign(data, "hand made"))


def test_signed_but_malformed_bundles_are_refused_by_the_later_checks(
    tmp_path: Path, verifier: str
) -> None:
    made = make_bundle(tmp_path)
    _sign_raw(made, b"not a tar at all" * 100)
    assert refused(made, verifier) is Check.CONTAINER
    manifest = make_manifest(
        made.image,
        "node.bin",
        target=TARGET,
        version="1.4.0",
        counter=7,
        valid_for=timedelta(days=30),
        now=NOW,
    )
    _sign_raw(made, build_container(manifest, made.image + b"x"))
    assert refused(made, verifier) is Check.IMAGE_HASH
    bad = manifest.model_copy(update={"counter": -1})  # model_copy does not validate
    _sign_raw(made, build_container(bad, made.image))
    assert refused(made, verifier) is Check.MANIFEST


def test_cli_verify_extracts_only_a_valid_bundle(tmp_path: Path, capsys) -> None:
    from jagajalan.cli import main

    made = make_bundle(tmp_path, valid_for=timedelta(days=3650))
    pub = tmp_path / "trusted.pub"
    pub.write_text(made.key.public_key.dump())
    out = tmp_path / "out"
    out.mkdir()
    base = ["firmware", "verify", str(made.path), "--key", str(pub), "--extract"]
    assert main([*base, str(out / "a.bin"), "--target", "esp32-node"]) == 1
    assert "[target]" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # refused: nothing written
    assert main([*base, str(out / "a.bin"), "--target", TARGET, "--lang", "en"]) == 0
    assert (out / "a.bin").read_bytes() == made.image
    assert "Bundle valid" in capsys.readouterr().out
