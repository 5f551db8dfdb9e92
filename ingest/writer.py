"""The write side of ingest: a FIFO of received messages and the thread that stores them.

Each :class:`Item` is one MQTT message: the records it maps to (line-protocol lines or Points;
none for a refused message) and what is needed to acknowledge or dead-letter it. The writer
takes items oldest first, writes their records in batches (at most ``batch_size`` records, or
whatever arrived within ``max_delay``), publishes the dead letters the batch produced, and only
then acknowledges all its messages at once, in the order received. With ``parallel`` > 1,
that many threads each take a batch and write it at the same time (one HTTP connection each,
so InfluxDB works on one batch while the next is sent); a batch is acknowledged only after
every batch taken before it was (MQTT acknowledges QoS 1 messages in the order received,
[MQTT-4.6.0-2]). So a message is acknowledged once its points are stored (or its dead letter
is with the broker), and a crash at any moment loses nothing: the broker redelivers what was
not acknowledged, and rewriting a point is harmless.

* Store down or slow (transient), or refusing this worker's settings (credentials,
  privileges, a missing database, a wrong URL: not the batch's fault): the same batch is
  retried with exponential backoff, without limit while running and until ``drain_timeout``
  once stopping. Nothing is acknowledged meanwhile, so the broker stops sending at the
  receive window: memory stays bounded, and the data waits in the broker, in order, until
  the store or the setting is back. A settings problem is every batch's, not one batch's:
  dead-lettering would move the whole stream into the dead-letter topic, to be replayed by
  hand. So it is retried too, and made loud: one ERROR line naming it and its fix (again
  when it changes, and once a minute) and a gauge (docs/scaling.md, section 1).
* Store refuses points (HTTP 400: field type conflict, beyond retention, unparsable): the
  batch is bisected until the bad records are isolated; the good ones are written, the bad
  ones become dead letters at once (grouped per original message).
* Store refuses for any other reason (HTTP 413, an unexpected answer or exception): bisected
  the same way; the records that still fail on their own are tried ``max_attempts`` times in
  all (with the same backoff), then dead-lettered as ``store_refused`` and acknowledged. So
  no batch holds a worker's share of the stream for longer than that. The rules, and the
  one place that classifies failures, are :mod:`ingest.retry` and :func:`store.base.classify`.
* Dead letter not accepted by the broker: retried without limit; the original message stays
  unacknowledged until it is.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

from ingest import deadletter
from ingest.deadletter import DeadLetter
from ingest.metrics import IngestMetrics
from ingest.retry import DeadLetterFailed, GaveUp, Refusal, Retrier, describe
from telemetry.line_block import LineBlock, joined

__all__ = ["Buffer", "DeadLetterFailed", "GaveUp", "Item", "Writer", "WriterHooks", "item_size"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Item:
    records: list[Any]  # line-protocol lines or Points
    topic: str
    gateway: str | None = None
    newest_ms: int = 0  # newest reading time, for the lag metric; 0 = none
    reason: str | None = None  # set when the message was refused whole
    error: str = ""  # why it was refused
    payload: bytes | None = None  # kept only for a refused message (its dead letter)
    token: Any = None  # what the acknowledger needs (MQTT message id and connection)
    received: float = field(default_factory=time.monotonic)
    size: int = 0  # bytes of memory it holds, about (:func:`item_size`)


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
            self.messages += 1
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
            gone = len(self._items) - len(kept)
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
            self.messages -= len(items)
            self.bytes -= sum(i.size for i in items)
            self._cond.notify_all()  # a reader held back by wait_below


@dataclass
class WriterHooks:
    """What the writer calls outside itself (the MQTT side, and clocks for tests)."""

    write: Callable[[Sequence[Any]], None]  # store.write_lines or store.write
    ensure: Callable[[], None]  # the store is ready for writing, else raises (creates nothing)
    render: Callable[[Any], str]  # a record as line protocol, for dead letters
    # Returns how many it acknowledged (None: all); those received on a connection that is
    # gone are not (the broker redelivers them).
    acknowledge: Callable[[Sequence[Item]], int | None] = lambda items: None
    publish: Callable[[Sequence[DeadLetter]], None] = lambda letters: None
    # True for an item the broker has redelivered on a newer connection: its copy does the
    # dead-lettering (and acknowledging), so the old one publishes no duplicate.
    redelivered: Callable[[Item], bool] = lambda item: False
    worker: str = ""
    clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)


class Writer(threading.Thread):
    def __init__(
        self,
        hooks: WriterHooks,
        buffer: Buffer,
        metrics: IngestMetrics,
        *,
        batch_size: int = 5_000,
        max_delay: float = 0.2,
        retry_max_delay: float = 5.0,
        parallel: int = 1,
        max_attempts: int = 5,
    ) -> None:
        super().__init__(name="ingest-writer", daemon=True)
        self.hooks = hooks
        self.buffer = buffer
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.retry_max_delay = retry_max_delay
        self.parallel = max(1, parallel)
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._ensured = False
        self._take_lock = threading.Lock()
        self._turn = threading.Condition()
        self._taken = 0  # batches taken (the number of the last one)
        self._finished = 0  # batches acknowledged, in the order taken
        self._ended = False  # a writing thread gave up or died: no more acknowledgements
        self.retry = Retrier(
            metrics,
            max_delay=retry_max_delay,
            max_attempts=max_attempts,
            sleep=self._sleep,
            giving_up=lambda: self._stopping.is_set() and time.monotonic() >= self._deadline,
        )

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Write what is buffered (retrying for at most *drain_timeout* s), then end."""
        self._deadline = time.monotonic() + drain_timeout
        self._stopping.set()
        self.buffer.close()

    def run(self) -> None:
        helpers = [
            threading.Thread(target=self._loop, name=f"ingest-writer-{i}", daemon=True)
            for i in range(1, self.parallel)
        ]
        for helper in helpers:
            helper.start()
        self._loop()
        for helper in helpers:
            helper.join()

    def _loop(self) -> None:
        """Take batches and write them; with ``parallel`` > 1 several threads do this at once
        (one HTTP connection each), and acknowledge their batches in the order taken."""
        clean = False
        try:
            while True:
                with self._take_lock:
                    items = self.buffer.take(self.batch_size, self.max_delay)
                    if items is None or self._ended:
                        clean = True
                        return
                    self._taken += 1
                    number = self._taken
                self._handle(items, number)
        except GaveUp:
            if not self._ended:
                log.error(
                    "event=drain_incomplete unacked_messages=%d: the store or broker is still"
                    " failing at shutdown; the broker keeps these messages for the next session",
                    self.buffer.messages,
                )
        finally:
            if not clean:  # gave up or died: the batches after this one are not acknowledged
                with self._turn:
                    self._ended = True
                    self._turn.notify_all()

    def _wait_turn(self, number: int) -> None:
        """Until every batch taken before batch *number* is acknowledged (MQTT acknowledges
        QoS 1 messages in the order received)."""
        with self._turn:
            while self._finished != number - 1:
                if self._ended:
                    raise GaveUp
                self._turn.wait()

    def _handle(self, items: list[Item], number: int = 0) -> None:
        records = batch_records(items)
        bad: list[Refusal] = []
        if records:
            started = time.perf_counter()
            bad = self.retry.write(self.hooks.write, records, prepare=self._ensure)
            self.metrics.write_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_points.observe(len(records))
            self.metrics.points_written.inc(len(records) - len(bad))
            if bad:
                self.metrics.write_errors.labels("rejected").inc()
                self.metrics.points_rejected.inc(len(bad))
        letters = self._dead_letters(items, bad)
        if letters:
            what = f"{len(letters)} dead letter(s)"
            sent = self.retry.until_done(lambda: self._publish(letters), what)
            for letter in sent:
                self.metrics.dead_letters.labels(letter.reason).inc()
                log.warning(
                    "event=dead_letter reason=%s topic=%s gateway=%s points=%d error=%r",
                    letter.reason,
                    letter.topic,
                    letter.gateway,
                    len(letter.points),
                    letter.error[:300],
                )
        if number:
            self._wait_turn(number)
        acked = self.hooks.acknowledge(items)
        self.metrics.acked.inc(len(items) if acked is None else acked)
        now_ms = self.hooks.clock_ms()
        newest = max([i.newest_ms for i in items])
        if newest:
            lag = max(0.0, (now_ms - newest) / 1000)
            self.metrics.lag_seconds.observe(lag)
            self.metrics.lag.set(lag)
        self.buffer.finish(items)
        if number:
            with self._turn:
                self._finished = number
                self._turn.notify_all()

    def _render(self, record: Any) -> str:
        try:
            return self.hooks.render(record)
        except ValueError:  # a point line protocol cannot carry: show it as it is
            return repr(record)

    def _publish(self, letters: list[tuple[Item, DeadLetter]]) -> list[DeadLetter]:
        due = [letter for item, letter in letters if not self.hooks.redelivered(item)]
        if due:
            self.hooks.publish(due)
        return due

    def _dead_letters(
        self, items: Sequence[Item], bad: list[Refusal]
    ) -> list[tuple[Item, DeadLetter]]:
        now = self.hooks.clock_ms()
        worker = self.hooks.worker
        letters = [
            (i, DeadLetter(i.reason, i.topic, i.gateway, i.error, now, (), i.payload, worker))
            for i in items
            if i.reason is not None
        ]
        if not bad:
            return letters
        starts, total = [], 0
        for item in items:
            starts.append(total)
            total += len(item.records)
        grouped: dict[tuple[int, str], list[Refusal]] = {}
        for refusal in bad:
            owner = bisect.bisect_right(starts, refusal.index) - 1
            if refusal.for_points:
                reason = deadletter.store_reason(describe(refusal.error))
            else:
                reason = deadletter.STORE_REFUSED
            grouped.setdefault((owner, reason), []).append(refusal)
        for (owner, reason), refusals in grouped.items():
            item = items[owner]
            points = [self._render(item.records[r.index - starts[owner]]) for r in refusals]
            first = refusals[0]
            attempts = 0 if first.for_points else max(r.attempts for r in refusals)
            error = describe(first.error)
            letter = DeadLetter(
                reason, item.topic, item.gateway, error, now, points, None, worker, attempts
            )
            letters.append((item, letter))
        return letters

    def _ensure(self) -> None:
        """Before the first write: the store must be ready for this worker (database there,
        write privilege; ``hooks.ensure`` checks, it creates nothing). Until it is, the
        failure goes to the retry policy like any write's: a store that is down or not set
        up is retried without limit, and nothing is acknowledged meanwhile."""
        if self._ensured:
            return
        self.hooks.ensure()
        self._ensured = True

    def _sleep(self, seconds: float) -> None:
        if not self._stopping.is_set():
            self._stopping.wait(seconds)
        else:
            time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))
