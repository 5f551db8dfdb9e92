"""An emulated ESP32 in its ROM serial loader (download mode) on a pseudo-terminal.

:class:`Esp32RomSim` runs the pure :class:`~simulators.devices.esp32_rom.protocol.RomLoader` on
the device side of a :class:`~simulators.devices.serial_link.SerialLink`: esptool opens
``link.path`` as it would open ``/dev/ttyUSB0``. The emulated flash (:attr:`Esp32RomSim.chip`,
``chip.flash_at(offset, n)``) is what a test compares with the image it flashed.

A pty has no DTR/RTS wired to EN and GPIO0, so the part starts in download mode (as a node
whose GPIO0 is held low while it is reset) and the flashing tool runs with esptool's
``--before no-reset --after no-reset``.

Faults (:class:`Noise`, seeded, so a run can be repeated):

- ``byte_error_rate``: each byte on the line, in either direction, is replaced by another
  value with this probability (a noisy TTL cable). The SLIP framing bytes 0xC0 and 0xDB are
  neither hit nor made, so a frame stays a frame and a hit is seen where it matters: a wrong
  block checksum (error 0x07), a wrong length (0x05), a status or digest that reads wrong on
  the host's side. (Merging two frames would cost esptool its 3 s answer timeout each time:
  real, but too slow for a test.)
- ``checksum_error_rate``: each valid FLASH_DATA block is answered "invalid CRC" (0x07)
  with this probability and not written, as the ROM answers a block damaged on the way.

:attr:`Esp32RomSim.injected` counts what was injected, so a test can show the faults happened.

Usage::

    with SerialLink(tmp / "ttyNODE", baudrate=115200) as link, Esp32RomSim(link) as sim:
        ...  # flash link.path; then compare sim.chip.flash_at(0x10000, len(image))
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.devices.esp32_rom.chip import ChipProfile, Esp32Chip
from simulators.devices.esp32_rom.protocol import END, ESC, INVALID_CRC, RomLoader
from simulators.devices.loader_sim import LineNoise, PtyLoaderSim
from simulators.devices.serial_link import SerialLink

FRAMING = (END, ESC)


@dataclass(frozen=True)
class Noise(LineNoise):
    checksum_error_rate: float = 0.0


@dataclass
class Injected:
    byte_errors: int = 0
    to_device: int = 0  # of the byte errors, how many the part received
    checksum_errors: int = 0


class Esp32RomSim(PtyLoaderSim):
    name = "esp32-rom"
    protected = FRAMING

    def __init__(
        self,
        link: SerialLink,
        profile: ChipProfile | None = None,
        noise: Noise | None = None,
    ) -> None:
        self.noise = noise or Noise()
        super().__init__(link, self.noise.byte_error_rate, self.noise.seed, Injected())
        self.loader = RomLoader(profile, fault=self._inject_checksum_error)
        self.chip: Esp32Chip = self.loader.chip

    def feed(self, data: bytes) -> bytes:
        return self.loader.feed(data)

    def _inject_checksum_error(self, op: int) -> int:
        hit = self.chance(self.noise.checksum_error_rate)
        self.injected.checksum_errors += hit
        return INVALID_CRC if hit else 0

    def reset(self) -> None:
        """GPIO0 low and a reset: the part is back in download mode, flash kept."""
        self.loader.reset()
