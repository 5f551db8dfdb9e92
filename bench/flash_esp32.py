"""Flashing an emulated ESP32 over a pseudo-terminal through esptool's ROM loader (no stub):
time for a 256 KiB image on a clean line and on a noisy one (1 byte in 5,000 corrupted each
way, SLIP framing bytes spared; 5 % of blocks answered with a wrong checksum), and how many
blocks were retried.

A pty has no baud rate: these times are the protocol's and the Python code's, a lower bound;
on a real 115200-baud 8N1 line the bytes alone take about 23 s for 256 KiB (1 KiB blocks plus
SLIP framing and escapes, 10 bits a byte; the MD5 verify sends nothing back but a digest).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from firmware_tools.flash import ESP32_APP_ADDRESS, flash_esp32
from simulators.devices.esp32_rom import Esp32RomSim, Noise
from simulators.devices.serial_link import SerialLink

SIZE = 256 * 1024


def run(noise: Noise, folder: Path) -> tuple[float, int, bool]:
    data = random.Random(noise.seed).randbytes(SIZE)
    with (
        SerialLink(folder / "tty", baudrate=115200) as link,
        Esp32RomSim(link, None, noise) as sim,
    ):
        start = time.perf_counter()
        report = flash_esp32(link.path, data, claims=folder / "claims")
        seconds = time.perf_counter() - start
        same = sim.chip.flash_at(ESP32_APP_ADDRESS, SIZE) == data
    return seconds, report.retries, same


def main() -> None:
    for name, noise in (
        ("clean", Noise()),
        ("noisy", Noise(byte_error_rate=0.0002, checksum_error_rate=0.05, seed=3)),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, retries, same = run(noise, Path(tmp))
        if not same:
            raise RuntimeError(f"{name}: the emulator's flash differs from the image")
        print(f"flash_esp32_256k_{name}_pty {seconds:.2f} s")
        print(f"flash_esp32_256k_{name}_retries {retries} blocks")


if __name__ == "__main__":
    main()
