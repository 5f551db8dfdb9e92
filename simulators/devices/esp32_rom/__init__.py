"""An emulated ESP32 ROM serial loader (download mode, esptool --no-stub) on a pseudo-terminal;
see emulator.py."""

from simulators.devices.esp32_rom.chip import ChipProfile, Esp32Chip
from simulators.devices.esp32_rom.emulator import Esp32RomSim, Noise
from simulators.devices.esp32_rom.protocol import RomLoader

__all__ = ["ChipProfile", "Esp32Chip", "Esp32RomSim", "Noise", "RomLoader"]
