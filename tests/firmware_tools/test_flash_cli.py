"""`jagajalan firmware flash` against the emulated STM32 on a pty: the technician's words
(Bahasa Indonesia by default, English with --lang en) and the exit codes."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_tools.bundle import SecretKey
from firmware_tools.flash import FLASH_BASE
from jagajalan.cli import main
from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot import Stm32BootSim
from tests.firmware_tools.bundles import TARGET, make_bundle


def test_flash_command(
    link: SerialLink, tmp_path: Path, claims: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))
    data = os.urandom(5000)
    bin_path = tmp_path / "node.bin"
    bin_path.write_bytes(data)
    args = ["firmware", "flash", "--port", link.path, "--parity", "N", "--quiet", str(bin_path)]
    with Stm32BootSim(link) as sim:
        assert main(args) == 0
        assert sim.memory.flash_at(FLASH_BASE, len(data)) == data
    out = capsys.readouterr().out
    assert "Selesai: 5000 bita di 0x08000000 tertulis dan terverifikasi" in out
    assert "Cip 0x410 (bootloader 2.2), flash 64 KiB" in out
    assert "Firmware baru sudah dijalankan." in out


def test_flash_command_errors(
    link: SerialLink, tmp_path: Path, claims: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))
    missing = tmp_path / "nope.bin"
    assert main(["firmware", "flash", "--port", link.path, "--lang", "en", str(missing)]) == 2
    assert "cannot read the image" in capsys.readouterr().err
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (65 * 1024))
    args = ["firmware", "flash", "--port", link.path, "--parity", "N", "--quiet", str(big)]
    with Stm32BootSim(link) as sim:
        assert main(args) == 2
        assert sim.memory.writes == 0
    assert "tidak ada yang ditulis" in capsys.readouterr().err
    # nothing answers: a failed run, said in words, exit 1
    args[-1:-1] = ["--timeout", "0.2"]
    with pytest.raises(SystemExit):
        main(["firmware", "flash", "--port", link.path, "--target", "avr", str(big)])
    small = tmp_path / "small.bin"
    small.write_bytes(b"1234")
    assert main([*args[:-1], str(small)]) == 1
    assert "BOOT0" in capsys.readouterr().err


def test_flash_a_signed_bundle_and_refuse_a_bad_one_before_any_write(
    link: SerialLink, tmp_path: Path, claims: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A .jjfw is checked before the port is opened: the good bundle's image is what lands in
    the emulated flash; a bundle for other hardware, one signed by another key and one older
    than the installed counter leave the flash untouched, each naming its check."""
    monkeypatch.setenv("JAGAJALAN_PORT_CLAIMS", str(claims))
    made = make_bundle(tmp_path, os.urandom(3000), valid_for=timedelta(days=36500))
    pub = tmp_path / "trusted.pub"
    pub.write_text(made.key.public_key.dump())
    base = ["firmware", "flash", "--port", link.path, "--parity", "N", "--quiet"]
    good = [*base, "--key", str(pub), "--hardware", TARGET, str(made.path)]
    with Stm32BootSim(link) as sim:
        assert main(good) == 0
        assert sim.memory.flash_at(FLASH_BASE, len(made.image)) == made.image
    capsys.readouterr()
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(SecretKey.generate().public_key.dump())
    refusals = {
        "[target]": [*base, "--key", str(pub), "--hardware", "esp32-node", str(made.path)],
        "[unknown_key]": [*base, "--key", str(stranger), "--hardware", TARGET, str(made.path)],
        "[downgrade]": [*good[:-1], "--installed-counter", "8", str(made.path)],
    }
    for check, argv in refusals.items():
        with Stm32BootSim(link) as sim:
            assert main(argv) == 1, check
            assert sim.memory.writes == 0, check
        err = capsys.readouterr().err
        assert check in err and "tidak ada yang ditulis" in err, err
    assert main([*base, "--key", str(pub), str(made.path)]) == 2  # no --hardware
    assert "--hardware" in capsys.readouterr().err
