"""Line-protocol lines held as one text: :class:`LineBlock`.

Ingest keeps a message's lines, and the writer a batch's, as one ``str`` with ``"\\n"``
between the lines (no line contains one: the line encoder escapes what line protocol
cannot carry). The hot path then never touches a line on its own: the size an item holds
is ``len(text)``, a batch is one join of its messages' texts, and InfluxDB's request body is
that text encoded. Ten thousand lines joined one by one cost the worker about 1 ms a write,
and summing their lengths for the byte budget 1.7 µs a message (docs/scaling.md, issue 16).

A block is still a ``Sequence[str]`` of its lines: ``len()`` counts them, and indexing,
slicing and iterating split the text once, for the rare paths that need lines one by one (a
refused write bisected to find the bad points, a dead letter naming them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

__all__ = ["LineBlock", "joined"]


class LineBlock(Sequence[str]):
    __slots__ = ("_lines", "n", "text")

    def __init__(self, text: str, n: int) -> None:
        self.text = text  # the lines, "\n" between them (none after the last)
        self.n = n  # how many
        self._lines: list[str] | None = None

    @classmethod
    def of(cls, lines: Sequence[str]) -> LineBlock:
        return lines if type(lines) is cls else cls("\n".join(lines), len(lines))

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n") if self.n else []
            if len(self._lines) != self.n:
                raise ValueError(f"a block of {self.n} lines holds {len(self._lines)}")
        return self._lines

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self.lines()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines())

    def __repr__(self) -> str:
        return f"LineBlock({self.n} lines, {len(self.text)} characters)"


def joined(blocks: Iterable[Sequence[str]]) -> LineBlock:
    """One block of the lines of *blocks* (blocks or lists of lines), in order."""
    parts, n = [], 0
    for block in blocks:
        if len(block):
            parts.append(block.text if type(block) is LineBlock else "\n".join(block))
            n += len(block)
    return LineBlock("\n".join(parts), n)
