"""Modbus RTU frames for register reads (FC 3 and FC 4): a pure core, bytes in, registers out.

No serial port, clock or logging here. :func:`parse_read_response` takes the raw bytes a
device sent back and either returns the register values or raises :class:`ModbusFrameError`
whose ``reason`` names what is wrong, so the driver can turn it into a device state and the
golden tests and the fuzzer can exercise every branch without a serial port.

Layout of the frames handled here::

    request   [unit][fc][addr hi][addr lo][count hi][count lo][crc lo][crc hi]
    response  [unit][fc][byte count][data: 2 bytes per register, big endian]...[crc lo][crc hi]
    exception [unit][fc | 0x80][exception code][crc lo][crc hi]
"""

from __future__ import annotations

from typing import Literal

from pymodbus.framer.rtu import FramerRTU

READ_FUNCTIONS = (3, 4)
MAX_READ_COUNT = 125  # registers in one read request (the PDU limit of 253 bytes)

FrameErrorReason = Literal[
    "crc_error", "truncated", "garbage", "exception", "wrong_unit", "wrong_length"
]

#: Standard Modbus exception codes, for messages people can act on.
EXCEPTION_CODES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusFrameError(Exception):
    """A response frame that cannot be used; ``reason`` is one of :data:`FrameErrorReason`."""

    def __init__(
        self, reason: FrameErrorReason, detail: str, exception_code: int | None = None
    ) -> None:
        self.reason: FrameErrorReason = reason
        self.detail = detail
        self.exception_code = exception_code
        super().__init__(f"{reason}: {detail}")


def crc16(data: bytes) -> int:
    """CRC-16/Modbus of *data*, as the integer whose big-endian bytes follow the data on the
    wire (pymodbus' own routine returns the CRC byte-swapped, low byte first on the wire)."""
    return FramerRTU.compute_CRC(data)


def _hex(data: bytes, limit: int = 24) -> str:
    shown = data[:limit].hex(" ")
    return shown + (" ..." if len(data) > limit else "")


def _check_args(unit: int, function: int, count: int) -> None:
    if not 0 <= unit <= 247:
        raise ValueError(f"unit must be 0..247, not {unit}")
    if function not in READ_FUNCTIONS:
        raise ValueError(f"function must be 3 (holding) or 4 (input), not {function}")
    if not 1 <= count <= MAX_READ_COUNT:
        raise ValueError(f"count must be 1..{MAX_READ_COUNT}, not {count}")


def build_read_request(unit: int, function: int, address: int, count: int) -> bytes:
    """The RTU request reading *count* registers from *address* (0-based) of *unit*."""
    _check_args(unit, function, count)
    if not 0 <= address <= 0xFFFF or address + count > 0x10000:
        raise ValueError(f"address must be 0..65535 and the block within it, not {address}")
    body = bytes([unit, function]) + address.to_bytes(2, "big") + count.to_bytes(2, "big")
    return body + crc16(body).to_bytes(2, "big")


def response_length(prefix: bytes, function: int) -> int | None:
    """Length of the whole response to a read with *function*, judged from its first bytes,
    or ``None`` while too few bytes have arrived to tell (2 for an exception, else 3).
    Raises :class:`ModbusFrameError` (``garbage``) as soon as byte 1 is neither *function*
    nor its exception form, so a reader can stop waiting."""
    if len(prefix) < 2:
        return None
    if prefix[1] == function | 0x80:
        return 5
    if prefix[1] != function:
        raise ModbusFrameError(
            "garbage",
            f"not a response to function {function}: byte 1 is 0x{prefix[1]:02x} "
            f"({len(prefix)} bytes: {_hex(prefix)})",
        )
    if len(prefix) < 3:
        return None
    return 5 + prefix[2]


def strip_echo(received: bytes, request: bytes) -> bytes:
    """*received* without a leading copy of *request*: some RS-485 adapters hear their own
    transmission, so the answer arrives after an echo of the request."""
    return received[len(request) :] if received.startswith(request) else received


def answer_needs(received: bytes, request: bytes, function: int) -> int:
    """How many more bytes to read before the answer to *request* can be judged; 0 when it
    is complete, or hopeless (garbage: the parser will say what it is).

    An echo of the request is allowed for: while the bytes received could be the start of one
    (a prefix of the request) and are not a complete answer with a valid CRC, the reader
    waits for the echo, but never asks for more bytes than a genuine answer would still need,
    so a genuine answer is never kept waiting for bytes that will not come."""
    echoed = received.startswith(request)
    body = received[len(request) :] if echoed else received
    try:
        total = response_length(body, function)
    except ModbusFrameError:
        return 0
    need = (3 if total is None else total) - len(body)
    if echoed or not received or not request.startswith(received):
        return max(need, 0)
    echo_need = len(request) - len(received)  # the bytes so far may be an echo arriving
    if need == 0 and crc16(received[:-2]) == int.from_bytes(received[-2:], "big"):
        return 0  # a complete answer, unless an echo goes on: see echo_pending
    if need < 0:  # longer than the answer it would be: an echo
        return echo_need
    return min(need, echo_need) if need > 0 else echo_need


def echo_pending(received: bytes, request: bytes) -> int:
    """Bytes that an echo of *request* would still send when *received* is a part of one.

    When :func:`answer_needs` says 0 while this is not 0, the bytes are a complete answer
    with a valid CRC *and* the start of the echo (a request whose first bytes happen to read
    as an answer to it): the bytes cannot tell, the line can. An echo goes on without a
    pause, a genuine answer ends with the inter-frame silence, so the reader waits for that
    silence (3.5 characters) only, never for a whole timeout."""
    if 0 < len(received) < len(request) and request.startswith(received):
        return len(request) - len(received)
    return 0


def _expected_length(frame: bytes, function: int) -> int:
    """Length the frame must have, judged from its function byte (and byte count)."""
    if len(frame) < 2:
        raise ModbusFrameError(
            "truncated", f"{len(frame)} byte(s) received, a response has at least 5"
        )
    length = response_length(frame, function)
    if length is None:
        raise ModbusFrameError("truncated", f"{len(frame)} bytes received, no byte count yet")
    return length


def parse_read_response(frame: bytes, unit: int, function: int, count: int) -> list[int]:
    """Registers from the response to a read of *count* registers with *function* (3 or 4)
    sent to *unit*. Raises :class:`ModbusFrameError` for anything else."""
    _check_args(unit, function, count)
    frame = bytes(frame)
    length = _expected_length(frame, function)
    if len(frame) < length:
        raise ModbusFrameError(
            "truncated", f"{len(frame)} of {length} bytes received ({_hex(frame)})"
        )
    if len(frame) > length:
        raise ModbusFrameError(
            "garbage",
            f"{len(frame) - length} unexpected byte(s) after a {length}-byte frame ({_hex(frame)})",
        )
    body, received = frame[:-2], int.from_bytes(frame[-2:], "big")
    computed = crc16(body)
    if received != computed:
        raise ModbusFrameError(
            "crc_error",
            f"CRC {received:04x} received, {computed:04x} computed over {_hex(body)}",
        )
    if frame[0] != unit:
        raise ModbusFrameError("wrong_unit", f"answer from unit {frame[0]}, asked unit {unit}")
    if frame[1] & 0x80:
        code = frame[2]
        name = EXCEPTION_CODES.get(code, "unknown exception code")
        raise ModbusFrameError(
            "exception", f"device answered exception {code} ({name})", exception_code=code
        )
    if frame[2] != 2 * count:
        raise ModbusFrameError(
            "wrong_length", f"{frame[2]} data bytes received, {2 * count} expected ({count} regs)"
        )
    data = frame[3:-2]
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
