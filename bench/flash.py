"""Flashing an emulated STM32 over a pseudo-terminal with the real stm32loader: time for a
32 KiB image on a clean line and on a noisy one (1 byte in 1,000 corrupted each way, 5 % of
commands NACKed), and how many blocks were retried.

A pty has no baud rate: these times are the protocol's and the Python code's, a lower bound;
on a real 115200-baud 8E1 line the bytes alone take about 6.6 s for 32 KiB written and read
back (about 73 KiB on the wire: data both ways plus framing, 11 bits a byte).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from firmware_tools.flash import FLASH_BASE, flash_stm32
from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot import Noise, Stm32BootSim

SIZE = 32 * 1024


def run(noise: Noise, folder: Path) -> tuple[float, int, bool]:
    data = random.Random(noise.seed).randbytes(SIZE)
    with (
        SerialLink(folder / "tty", baudrate=115200) as link,
        Stm32BootSim(link, None, noise) as sim,
    ):
        start = time.perf_counter()
        report = flash_stm32(link.path, data, parity="N", timeout=0.3, claims=folder / "claims")
        seconds = time.perf_counter() - start
        same = sim.memory.flash_at(FLASH_BASE, SIZE) == data
    return seconds, report.retries, same


def main() -> None:
    for name, noise in (
        ("clean", Noise()),
        ("noisy", Noise(byte_error_rate=0.001, nack_rate=0.05, seed=3)),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, retries, same = run(noise, Path(tmp))
        if not same:
            raise RuntimeError(f"{name}: the emulator's flash differs from the image")
        print(f"flash_stm32_32k_{name}_pty {seconds:.2f} s")
        print(f"flash_stm32_32k_{name}_retries {retries} blocks")


if __name__ == "__main__":
    main()
