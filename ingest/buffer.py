"""The FIFO between ingest's MQTT side and its writer: :class:`Item` (one MQTT message: the
records it maps to and what is needed to acknowledge or dead-letter it), what an item holds
in memory (:func:`item_size`, what the byte budget counts), the records of a batch as the
store takes them (:func:`batch_records`) and the thread-safe :class:`Buffer`. The rules of
writing and acknowledging are :mod:`ingest.writer`'s."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

from telemetry.line_block import LineBlock, joined

__all__ = ["Buffer", "Item", "batch_records", "each_message", "item_size", "messages"]


@dataclass(slots=True)
class Item:
    records: Sequence[Any]  # lines of line protocol (a LineBlock, or a list) or Points
    topic: str
    gateway: str | None = None
    newest_ms: int = 0  # newest reading time, for the lag metric; 0 = none
    reason: str | None = None  # set when the message was refused whole
    error: str = ""  # why it was refused
    payload: bytes | None = None  # kept only for a refused message (its dead letter)
    token: Any = None  # what the acknowledger needs (MQTT message id and connection)
    received: float = field(default_factory=time.monotonic)
    size: int = 0  # bytes of memory it holds, about (:func:`item_size`)
    # Several messages taken at once (ingest/bulk.py): each one's (topic, gateway, lines),
    # in order (token is then (their mids, the connection)).
    parts: Sequence[tuple[str, str, int]] | None = None

    @property
    def count(self) -> int:
        """The MQTT messages it stands for."""
        return 1 if self.parts is None else len(self.parts)


def messages(items: Sequence[Item]) -> int:
    """The MQTT messages *items* stand for."""
    return sum([i.count for i in items])


def each_message(items: Sequence[Item]) -> list[Item]:
    """*items* with every item of several messages split into one per message (its lines,
    topic and gateway; the same token): for naming a refused point's message."""
    out: list[Item] = []
    for item in items:
        if item.parts is None:
            out.append(item)
            continue
        lines, start = list(item.records), 0
        for topic, gateway, n in item.parts:
            part = Item(lines[start : start + n], topic, gateway, item.newest_ms, token=item.token)
            out.append(part)
            start += n
    return out


_RECORDS = attrgetter("records")
#: Memory of a line held in a list (str header and list slot), and of an item's own objects.
_RECORD_OVERHEAD = 57
_ITEM_OVERHEAD = 250
_POINT_SIZE = 400  # a Point (dataclass, two dicts): no line text to measure


def item_size(records: Sequence[Any], payload: bytes | None) -> int:
    """About the bytes an item holds: its line-protocol text (a block, lines, or Points) and
    the payload kept for a dead letter. What the byte budget of the buffer counts."""
    kept = _ITEM_OVERHEAD + (len(payload) if payload else 0)
    if type(records) is LineBlock:  # one str (its lines are split only on a refusal)
        return kept + len(records.text)
    n = len(records)
    text = sum(map(len, records)) if n and type(records[0]) is str else _POINT_SIZE * n
    return kept + text + _RECORD_OVERHEAD * n


def _lines(records: Sequence[Any]) -> bool:
    return type(records) is LineBlock or not records or type(records[0]) is str


def batch_records(items: Sequence[Item]) -> Sequence[Any]:
    """The records of *items* in order, as the store takes them: one block of lines when
    they are lines (one join of the messages' texts, and the request body is that text),
    else a list of Points."""
    if all(map(_lines, map(_RECORDS, items))):
        return joined(map(_RECORDS, items))
    return list(chain.from_iterable(map(_RECORDS, items)))


class Buffer:
    """Thread-safe FIFO of items. ``points``/``messages`` count items not yet finished
    (waiting, or taken by the writer and not yet acknowledged)."""

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._cond = threading.Condition()
        self._waiting_points = 0
        self._closed = False
        self.points = 0
        self.messages = 0
        self.bytes = 0  # Item.size of the items counted in messages
        self.peak_bytes = 0  # the most it ever was

    def put(self, item: Item) -> None:
        n = len(item.records)
        with self._cond:
            self._items.append(item)
            self._waiting_points += n
            self.points += n
            self.messages += item.count
            self.bytes += item.size
            self.peak_bytes = max(self.peak_bytes, self.bytes)
            if self._waiting_points >= self._wake_at or len(self._items) == 1:
                self._cond.notify()

    _wake_at = 1  # set by take(): no need to wake the writer before a batch is full

    def close(self) -> None:
        """No more waiting: :meth:`take` hands out what is left, then returns None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drop_waiting(self, keep: Callable[[Item], bool]) -> int:
        """Forget waiting items for which *keep* is false (e.g. those received on a broker
        connection that is gone: the broker redelivers them). Returns how many went."""
        with self._cond:
            kept = [i for i in self._items if keep(i)]
            gone = messages(self._items) - messages(kept)
            lost_points = sum(len(i.records) for i in self._items) - sum(
                len(i.records) for i in kept
            )
            self.bytes -= sum(i.size for i in self._items) - sum(i.size for i in kept)
            self._items = deque(kept)
            self._waiting_points -= lost_points
            self.points -= lost_points
            self.messages -= gone
            self._cond.notify_all()
            return gone

    def wait_below(self, limit: int, timeout: float) -> bool:
        """True as soon as the items not finished hold fewer than *limit* bytes; False if
        they still hold that many after *timeout* seconds (or after an item was finished:
        the caller gets a turn to send its acknowledgements)."""
        with self._cond:
            if self.bytes < limit or timeout <= 0:
                return self.bytes < limit
            self._cond.wait(timeout)
            return self.bytes < limit

    def take(self, max_points: int, max_delay: float) -> list[Item] | None:
        """Block until *max_points* records wait, the oldest item is *max_delay* seconds old,
        or the buffer is closed; then remove and return the oldest items (at most
        *max_points* records, but always at least one item). None once closed and empty."""
        with self._cond:
            self._wake_at = max_points
            while True:
                if self._items:
                    if self._closed or self._waiting_points >= max_points:
                        break
                    wait = self._items[0].received + max_delay - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                elif self._closed:
                    return None
                else:
                    self._cond.wait()
            taken = [self._items.popleft()]
            total = len(taken[0].records)
            while self._items and total + len(self._items[0].records) <= max_points:
                item = self._items.popleft()
                total += len(item.records)
                taken.append(item)
            self._waiting_points -= total
            return taken

    def finish(self, items: Sequence[Item]) -> None:
        with self._cond:
            self.points -= sum(len(i.records) for i in items)
            self.messages -= messages(items)
            self.bytes -= sum(i.size for i in items)
            self._cond.notify_all()  # a reader held back by wait_below
