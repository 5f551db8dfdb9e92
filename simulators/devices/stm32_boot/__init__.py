"""An emulated STM32 system bootloader (ST AN3155) on a pseudo-terminal; see emulator.py."""

from simulators.devices.stm32_boot.chip import ChipProfile, Memory
from simulators.devices.stm32_boot.emulator import Noise, Stm32BootSim
from simulators.devices.stm32_boot.protocol import Bootloader

__all__ = ["Bootloader", "ChipProfile", "Memory", "Noise", "Stm32BootSim"]
