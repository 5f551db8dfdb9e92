"""Cutting a serial byte stream into lines: shared by every line-oriented device type. Pure.

The traffic counter's records, the weather station's sentences and NMEA sentences all start
with ``$`` or end with ``\\n``; :class:`LineFramer` finds those boundaries whatever the chunking
of the reads, and never holds more than one line's worth of bytes.
"""

from __future__ import annotations


# -- framing ----------------------------------------------------------------------------------
class LineFramer:
    """Cuts a byte stream into candidate lines for a device's line parser, whatever the chunking.

    A line ends at ``\\n``, or where a ``$`` starts the next record (so a truncated record is
    returned on its own and the record after it is kept). Lines longer than *max_line* are
    returned cut to ``max_line + 1`` bytes (so the parser rejects them) and the rest is
    skipped up to the next ``\\n`` or ``$``. Whitespace-only lines are dropped. Until the first
    ``\\n`` or ``$`` the framer is not in sync and drops what it sees (the tail of a line the
    port was opened in the middle of).
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._synced = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        for byte in data:
            if byte == 0x24:  # '$': a new record starts, whatever came before
                self._emit(lines)
                self._synced = True
                self._buf.append(byte)
            elif byte == 0x0A:  # '\n'
                self._emit(lines)
                self._synced = True
            elif self._synced:
                self._buf.append(byte)
                if len(self._buf) > self.max_line:
                    lines.append(bytes(self._buf))
                    self._buf.clear()
                    self._synced = False
        return lines

    def _emit(self, lines: list[bytes]) -> None:
        if self._buf.strip():
            lines.append(bytes(self._buf))
        self._buf.clear()
