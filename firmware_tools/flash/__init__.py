"""Flashing sensor nodes: STM32 over the USART system bootloader (stm32loader)."""

from firmware_tools.flash.errors import FlashError
from firmware_tools.flash.run import Verifier, flash_stm32, lent_port, load_image
from firmware_tools.flash.stm32 import FLASH_BASE, FlashReport, Stm32Flasher

__all__ = [
    "FLASH_BASE",
    "FlashError",
    "FlashReport",
    "Stm32Flasher",
    "Verifier",
    "flash_stm32",
    "lent_port",
    "load_image",
]
