"""The write side of ingest: the thread that stores what the FIFO of received messages
(:mod:`ingest.buffer`) holds.

Each :class:`~ingest.buffer.Item` is one MQTT message: the records it maps to (lines of line
protocol or Points; none for a refused message) and what is needed to acknowledge or
dead-letter it. The writer takes items oldest first, writes their records in batches (at most
``batch_size`` records, or whatever arrived within ``max_delay``), publishes the dead letters
the batch produced, and only then acknowledges all its messages at once, in the order received.
With ``parallel`` > 1, that many threads each take a batch and write it at the same time (one
HTTP connection each, so InfluxDB works on one batch while the next is sent); a batch is
acknowledged only after every batch taken before it was (MQTT acknowledges QoS 1 messages in
the order received, [MQTT-4.6.0-2]). So a message is acknowledged once its points are stored
(or its dead letter is with the broker), and a crash at any moment loses nothing: the broker
redelivers what was not acknowledged, and rewriting a point is harmless.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingest import deadletter
from ingest.buffer import Buffer, Item, batch_records, each_message, messages
from ingest.deadletter import DeadLetter
from ingest.metrics import IngestMetrics
from ingest.retry import DeadLetterFailed, GaveUp, Refusal, Retrier, describe

__all__ = ["DeadLetterFailed", "GaveUp", "Writer", "WriterHooks"]

log = logging.getLogger(__name__)


@dataclass
class WriterHooks:
    """What the writer calls outside itself (the MQTT side, and clocks for tests)."""

    write: Callable[[Sequence[Any]], None]  # store.write_lines or store.write
    ensure: Callable[[], None]  # the store is ready for writing, else raises (creates nothing)
    render: Callable[[Any], str]  # a record as line protocol, for dead letters
    # Returns how many messages it acknowledged (None: all); those received on a connection
    # that is gone are not (the broker redelivers them).
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
        self.metrics.acked.inc(messages(items) if acked is None else acked)
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
        items = each_message(items)  # a refused point is named by its own message
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
