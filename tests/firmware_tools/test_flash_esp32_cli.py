"""`jagajalan firmware flash` into the emulated ESP32 on a pty: a signed bundle selects the
ESP32 path by its hardware target, lands at 0x10000 and is verified; refused bundles (the same
checks as for an STM32) never reach the port."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_tools.bundle import SecretKey
from firmware_tools.flash import ESP32_APP_ADDRESS
from jagajalan.cli import main
from simulators.devices.esp32_rom import Esp32RomSim, Noise
from simulators.devices.serial_link import SerialLink
from tests.firmware_tools.bundles import make_bundle

ESP32_TARGET = "esp32-node"


@pytest.fixture
def env(claims: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))


def test_flash_a_signed_esp32_bundle(link: SerialLink, tmp_path: Path, env: None, capsys) -> None:
    made = make_bundle(
        tmp_path, os.urandom(3000), target=ESP32_TARGET, valid_for=timedelta(days=36500)
    )
    pub = tmp_path / "trusted.pub"
    pub.write_text(made.key.public_key.dump())
    args = ["firmware", "flash", "--port", link.path, "--quiet", "--key", str(pub)]
    args += ["--hardware", ESP32_TARGET, str(made.path)]
    with Esp32RomSim(link) as sim:
        assert main(args) == 0
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, len(made.image)) == made.image
        assert sim.loader.commands[0x13] == 1  # SPI_FLASH_MD5: verified
    out = capsys.readouterr().out
    assert "Cip ESP32-D0WD-V3 (revision v3.0), MAC 24:0a:c4:12:34:56, flash 4096 KiB" in out
    assert "Selesai: 3000 bita di 0x00010000 tertulis dan terverifikasi" in out
    assert "Firmware baru sudah dijalankan." in out
    # in English, on a noisy line, at another address, not started
    noise = Noise(byte_error_rate=0.0002, checksum_error_rate=0.1, seed=9)
    more = [*args[:-1], "--lang", "en", "--no-start", "--address", "0x200000", args[-1]]
    with Esp32RomSim(link, noise=noise) as sim:
        assert main(more) == 0
        assert sim.chip.flash_at(0x200000, len(made.image)) == made.image
        assert sim.injected.checksum_errors + sim.injected.byte_errors > 0
    out = capsys.readouterr().out
    assert "Done: 3000 bytes at 0x00200000 written and verified" in out
    assert "The new firmware is not started: press EN without holding BOOT." in out


def test_refused_bundles_never_reach_the_esp32(
    link: SerialLink, tmp_path: Path, env: None, capsys
) -> None:
    """Tampered, for other hardware, signed by a stranger, expired, older than installed: each
    is refused naming its check, exit 1, and the emulated ROM never sees a single packet."""
    good = make_bundle(tmp_path, os.urandom(2048), target=ESP32_TARGET)
    pub = tmp_path / "trusted.pub"
    pub.write_text(good.key.public_key.dump())
    stm32 = make_bundle(tmp_path, os.urandom(2048), key=good.key, name="stm32.jjfw")
    expired = make_bundle(
        tmp_path,
        os.urandom(2048),
        key=good.key,
        target=ESP32_TARGET,
        valid_for=timedelta(seconds=1),
        name="old.jjfw",
    )
    tampered = tmp_path / "tampered.jjfw"
    raw = bytearray(good.path.read_bytes())
    raw[-700] ^= 0xFF  # inside the image
    tampered.write_bytes(raw)
    tampered.with_name("tampered.jjfw.minisig").write_bytes(good.signature.read_bytes())
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(SecretKey.generate().public_key.dump())
    base = ["firmware", "flash", "--port", link.path, "--quiet", "--hardware", ESP32_TARGET]
    trusted = [*base, "--key", str(pub)]
    refusals = {
        "[signature]": [*trusted, str(tampered)],
        "[target]": [*trusted, str(stm32.path)],
        "[unknown_key]": [*base, "--key", str(stranger), str(good.path)],
        "[expired]": [*trusted, str(expired.path)],
        "[downgrade]": [*trusted, "--installed-counter", "8", str(good.path)],
    }
    for check, argv in refusals.items():
        with Esp32RomSim(link) as sim:
            assert main(argv) == 1, check
            assert not sim.loader.commands and not sim.loader.errors, check
            assert sim.chip.writes == 0 and sim.chip.erased_sectors == [], check
        err = capsys.readouterr().err
        assert check in err and "tidak ada yang ditulis" in err, err


def test_target_and_hardware_must_agree(
    link: SerialLink, tmp_path: Path, env: None, capsys
) -> None:
    made = make_bundle(tmp_path, os.urandom(64), target=ESP32_TARGET)
    argv = ["firmware", "flash", "--port", link.path, "--target", "stm32"]
    assert main([*argv, "--hardware", ESP32_TARGET, str(made.path)]) == 2
    assert "--target stm32 tidak cocok dengan --hardware esp32-node" in capsys.readouterr().err
    raw = tmp_path / "app.bin"
    raw.write_bytes(b"\x01" * 100)
    argv = ["firmware", "flash", "--port", link.path, "--target", "esp32", "--quiet"]
    with Esp32RomSim(link) as sim:
        assert main([*argv, "--address", "0x10800", str(raw)]) == 2  # not a sector's start
        assert not sim.loader.commands
        assert main([*argv, str(raw)]) == 0  # a raw image with --target esp32: 0x10000
        assert sim.chip.flash_at(ESP32_APP_ADDRESS, 100) == b"\x01" * 100
    assert "kelipatan 0x1000" in capsys.readouterr().err
