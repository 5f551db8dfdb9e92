"""The STM32 USART system bootloader (ST AN3155) as a pure state machine: bytes in, bytes out.

:class:`Bootloader` is fed the bytes the host sends (:meth:`Bootloader.feed`) and returns what
the part answers. It follows AN3155 as the real bootloader does:

- after reset it waits for the synchronisation byte 0x7F (the real part measures the baud
  rate on it) and answers ACK; anything before it is ignored;
- then every command is two bytes, the code and its complement; a pair that does not
  complement (0x7F 0x7F, a corrupted byte) or a code the part does not offer gets a NACK and
  the bootloader waits for the next command;
- an address is four bytes big-endian and their XOR; a bad checksum, or an address the
  command cannot use, gets a NACK and the command ends; so do a bad length or data checksum;
- Write Memory takes N+1 bytes (N+1 a multiple of 4) and programs flash only where it is
  erased (the flash controller's rule): programming a non-erased location gets a NACK;
- Erase (0x43): N and N+1 page numbers and their XOR, or 0xFF 0x00 for a global erase;
  Extended Erase (0x44): the same with 16-bit big-endian numbers, 0xFFFF for a mass erase;
- Go: ACK, then the part runs the application and the bootloader answers nothing more until
  :meth:`Bootloader.reset` (BOOT0 held high and a reset, as a technician or the gateway does).

*nack* is an optional hook: called with the code of every valid command, it returns True to
answer that command with a NACK instead (fault injection: a busy or disturbed part).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import reduce
from operator import xor

from simulators.devices.stm32_boot.chip import (
    ACK,
    ERASE,
    EXTENDED_ERASE,
    GET,
    GET_ID,
    GET_VERSION,
    GO,
    NACK,
    READ_MEMORY,
    SYNC,
    WRITE_MEMORY,
    ChipProfile,
    Memory,
)

# A handler reads bytes with ``b = yield`` and appends its answer to ``self._out``.
Steps = Generator[None, int, None]


def checksum(data: bytes | bytearray, start: int = 0) -> int:
    return reduce(xor, data, start)


class Bootloader:
    def __init__(
        self,
        chip: ChipProfile | None = None,
        memory: Memory | None = None,
        nack: Callable[[int], bool] | None = None,
    ) -> None:
        self.chip = chip or ChipProfile()
        self.memory = memory or Memory(self.chip)
        self.nack_hook = nack
        self.state = "reset"  # reset (waiting for 0x7F), command, running
        self.jumped_to: int | None = None  # where the last Go sent the part
        self.commands: dict[int, int] = {}  # command code -> times it was answered ACK
        self.nacks = 0  # NACKs sent (bad bytes, refused commands, injected)
        self._out = bytearray()
        self._steps = self._main()
        next(self._steps)

    def reset(self) -> None:
        """BOOT0 high and a reset pulse: back in the bootloader, waiting for 0x7F."""
        self.state = "reset"
        self._steps = self._main()
        next(self._steps)

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host in, the part's answer out (may be empty)."""
        for byte in data:
            self._steps.send(byte)
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- framing ----------------------------------------------------------------------------
    def _ack(self) -> None:
        self._out.append(ACK)

    def _nack(self) -> None:
        self.nacks += 1
        self._out.append(NACK)

    def _main(self) -> Steps:
        while (yield) != SYNC:
            pass
        self._ack()
        self.state = "command"
        handlers: dict[int, Callable[[], Steps]] = {
            GET: self._get,
            GET_VERSION: self._get_version,
            GET_ID: self._get_id,
            READ_MEMORY: self._read_memory,
            GO: self._go,
            WRITE_MEMORY: self._write_memory,
            ERASE: self._erase,
            EXTENDED_ERASE: self._extended_erase,
        }
        while True:
            code = yield
            complement = yield
            if code ^ complement != 0xFF or code not in self.chip.commands:
                self._nack()
                continue
            if self.nack_hook is not None and self.nack_hook(code):
                self._nack()
                continue
            self._ack()
            self.commands[code] = self.commands.get(code, 0) + 1
            yield from handlers[code]()
            if self.state == "running":
                while True:  # the application runs: it does not speak AN3155
                    yield

    def _address(self) -> Steps:
        """Four address bytes and their XOR; sets ``self._addr`` (None when bad)."""
        raw = bytearray()
        for _ in range(4):
            raw.append((yield))
        check = yield
        self._addr = int.from_bytes(raw, "big") if checksum(raw) == check else None

    # -- commands ---------------------------------------------------------------------------
    def _get(self) -> Steps:
        cmds = self.chip.commands
        self._out += bytes([len(cmds), self.chip.bootloader_version]) + cmds
        self._ack()
        return
        yield

    def _get_version(self) -> Steps:
        self._out += bytes([self.chip.bootloader_version, 0x00, 0x00])
        self._ack()
        return
        yield

    def _get_id(self) -> Steps:
        self._out += bytes([1]) + self.chip.product_id.to_bytes(2, "big")
        self._ack()
        return
        yield

    def _read_memory(self) -> Steps:
        yield from self._address()
        address = self._addr
        if address is None or not self.memory.readable(address):
            self._nack()
            return
        self._ack()
        n = yield
        complement = yield
        if n ^ complement != 0xFF or not self.memory.readable(address, n + 1):
            self._nack()
            return
        self._ack()
        self._out += self.memory.read(address, n + 1)

    def _go(self) -> Steps:
        yield from self._address()
        address = self._addr
        if address is None or not self.memory.readable(address):
            self._nack()
            return
        self._ack()
        self.jumped_to = address
        self.state = "running"

    def _write_memory(self) -> Steps:
        yield from self._address()
        address = self._addr
        if address is None or not self.memory.writable(address):
            self._nack()
            return
        self._ack()
        n = yield
        data = bytearray()
        for _ in range(n + 1):
            data.append((yield))
        check = yield
        if (
            checksum(data, n) != check
            or (n + 1) % 4
            or not self.memory.writable(address, n + 1)
            or not self.memory.write(address, bytes(data))
        ):
            self._nack()
            return
        self._ack()

    def _erase(self) -> Steps:
        n = yield
        if n == 0xFF:
            if (yield) != 0x00:
                self._nack()
                return
            self.memory.mass_erase()
            self._ack()
            return
        pages = bytearray()
        for _ in range(n + 1):
            pages.append((yield))
        check = yield
        if checksum(pages, n) != check or not self.memory.erase_pages(list(pages)):
            self._nack()
            return
        self._ack()

    def _extended_erase(self) -> Steps:
        head = bytearray([(yield), (yield)])
        n = int.from_bytes(head, "big")
        if n >= 0xFFF0:  # special erases: 0xFFFF mass, 0xFFFE bank 1, 0xFFFD bank 2
            check = yield
            if checksum(head) != check or n not in (0xFFFF, 0xFFFE, 0xFFFD):
                self._nack()
                return
            self.memory.mass_erase()  # one bank on the emulated part: all of it
            self._ack()
            return
        raw = bytearray()
        for _ in range(2 * (n + 1)):
            raw.append((yield))
        check = yield
        pages = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        if checksum(raw, checksum(head)) != check or not self.memory.erase_pages(pages):
            self._nack()
            return
        self._ack()
