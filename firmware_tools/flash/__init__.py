"""Flashing sensor nodes: STM32 over the USART system bootloader (stm32loader), ESP32 over its
ROM serial loader (esptool, without its stub; the ``esp32`` extra, imported only when used)."""

from firmware_tools.flash.errors import FlashError
from firmware_tools.flash.run import (
    ESP32_APP_ADDRESS,
    Verifier,
    flash_esp32,
    flash_stm32,
    lent_port,
    load_image,
)
from firmware_tools.flash.stm32 import FLASH_BASE, FlashReport, Stm32Flasher

__all__ = [
    "ESP32_APP_ADDRESS",
    "FLASH_BASE",
    "FlashError",
    "FlashReport",
    "Stm32Flasher",
    "Verifier",
    "flash_esp32",
    "flash_stm32",
    "lent_port",
    "load_image",
]
