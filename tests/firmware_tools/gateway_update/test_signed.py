"""`gateway-update` with the real signed-bundle verifier (firmware_tools.bundle, built in
parallel on another branch: skipped until it is merged). A bundle signed with a key whose
public half is in --keys installs; a tampered one, one for another target and a downgrade
(counter below the installed release's) are refused before anything is written.
systemd is kit.Supervisor; the release content is kit's small stand-in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from firmware_tools.gateway_update.layout import Layout

from .kit import kill_pid_file, release_image
from .run_cli import main

package = pytest.importorskip("firmware_tools.bundle.package")
minisign = pytest.importorskip("firmware_tools.bundle.minisign")
TARGET = "gateway-test"


def bundle(folder: Path, key, version: str, counter: int, target: str = TARGET) -> Path:
    image = release_image(version)
    manifest = package.make_manifest(
        image,
        f"jagajalan-gateway-{version}.tar.gz",
        target=target,
        version=version,
        counter=counter,
        valid_for=timedelta(days=1),
    )
    out = folder / f"jagajalan-gateway-{version}-{counter}-{target}.jjfw"
    package.write_bundle(out, manifest, image, key)
    return out


def test_signed_bundles_install_and_bad_ones_are_refused(tmp_path: Path, capsys) -> None:
    key = minisign.SecretKey.generate()
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "jagajalan-firmware.pub").write_text(key.public_key.dump())
    root, health = tmp_path / "opt", tmp_path / "health.json"
    base = ["--root", str(root), "--health-file", str(health), "--timeout", "5"]
    args = [*base, "--keys", str(keys), "--target", TARGET, "--lang", "en"]
    try:
        good = bundle(tmp_path, key, "1.0.0", counter=5)
        assert main([*args, "--from", str(good)], signed=True) == 0
        assert Layout(root).installed_counter() == 5
        tampered = bundle(tmp_path, key, "1.1.0", counter=6)
        data = bytearray(tampered.read_bytes())
        data[-100] ^= 1
        tampered.write_bytes(bytes(data))
        other = bundle(tmp_path, key, "1.2.0", counter=6, target="gateway-other")
        older = bundle(tmp_path, key, "0.9.0", counter=4)
        capsys.readouterr()
        for bad, check in ((tampered, "signature"), (other, "target"), (older, "downgrade")):
            assert main([*args, "--from", str(bad)], signed=True) == 1
            assert f"[{check}]" in capsys.readouterr().err
        assert Layout(root).versions() == ["1.0.0"]
        assert Layout(root).current_version() == "1.0.0"
    finally:
        kill_pid_file(health.with_name("gateway.pid"))
