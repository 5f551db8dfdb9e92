"""An emulated STM32 in its system bootloader on a pseudo-terminal, with a noisy line.

:class:`Stm32BootSim` runs the pure :class:`~simulators.devices.stm32_boot.protocol.Bootloader`
on the device side of a :class:`~simulators.devices.serial_link.SerialLink`: the flashing tool
opens ``link.path`` exactly as it would open ``/dev/ttyUSB0``. The emulator's memory
(:attr:`Stm32BootSim.memory`) is what a test compares with the image it flashed.

Faults (:class:`Noise`, seeded, so a run can be repeated):

- ``byte_error_rate``: each byte on the line, in either direction, is replaced by another
  value with this probability (a noisy RS-232/TTL cable): the part sees a bad checksum and
  answers NACK, or the host reads a wrong ACK or wrong data;
- ``nack_rate``: each valid command is answered NACK with this probability.

:attr:`Stm32BootSim.injected` counts what was injected, so a test can show that the faults
happened. A pty carries no parity (see serial_link.py): the emulated line is 8N1, where a real
bootloader line is 8E1, so the flasher is run with ``parity="N"`` against it.

Usage::

    with SerialLink(tmp / "ttyNODE", baudrate=115200) as link, Stm32BootSim(link) as sim:
        ...  # flash link.path; then compare sim.memory.flash_at(0x08000000, len(image))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.devices.loader_sim import LineNoise, PtyLoaderSim
from simulators.devices.serial_link import SerialLink
from simulators.devices.stm32_boot.chip import ChipProfile, Memory
from simulators.devices.stm32_boot.protocol import Bootloader


@dataclass(frozen=True)
class Noise(LineNoise):
    nack_rate: float = 0.0


@dataclass
class Injected:
    byte_errors: int = 0
    nacks: int = 0
    to_device: int = field(default=0)  # of the byte errors, how many the part received


class Stm32BootSim(PtyLoaderSim):
    name = "stm32-boot"

    def __init__(
        self,
        link: SerialLink,
        chip: ChipProfile | None = None,
        noise: Noise | None = None,
    ) -> None:
        self.noise = noise or Noise()
        super().__init__(link, self.noise.byte_error_rate, self.noise.seed, Injected())
        self.bootloader = Bootloader(chip, nack=self._inject_nack)
        self.memory: Memory = self.bootloader.memory

    def feed(self, data: bytes) -> bytes:
        return self.bootloader.feed(data)

    def _inject_nack(self, code: int) -> bool:
        hit = self.chance(self.noise.nack_rate)
        self.injected.nacks += hit
        return hit

    def reset(self) -> None:
        """BOOT0 high and reset: the part is back in its bootloader, memory kept."""
        self.bootloader.reset()
