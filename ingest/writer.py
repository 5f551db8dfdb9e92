"""The write side of ingest: a FIFO of received messages and the thread that stores them.

Each :class:`Item` is one MQTT message: the points it maps to (none for a refused message)
and a ``done`` callback that acknowledges it to the broker. The writer takes items oldest
first, writes their points in batches (at most ``batch_size`` points, or whatever arrived
within ``max_delay``), and only then calls ``done`` on each, in the order received. So a
message is acknowledged once its points are stored, and a crash at any moment loses nothing:
the broker redelivers what was not acknowledged, and rewriting a point is harmless.

* Store unavailable (or refusing the credentials): retry the same batch with exponential
  backoff, forever while running and until ``drain_timeout`` once stopping.
* Store rejects a batch: split it in halves until the bad points are isolated; the good ones
  are written, each bad one is logged and counted (a dead-letter topic comes later).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from ingest.metrics import IngestMetrics
from ingest.store.base import Store, StoreAuthFailed, StoreRejected, StoreUnavailable
from telemetry.mapping import Point

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Item:
    points: list[Point]
    done: Callable[[], None]
    received: float = field(default_factory=time.monotonic)


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

    def put(self, item: Item) -> None:
        with self._cond:
            self._items.append(item)
            self._waiting_points += len(item.points)
            self.points += len(item.points)
            self.messages += 1
            self._cond.notify()

    def close(self) -> None:
        """No more waiting: :meth:`take` hands out what is left, then returns None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, max_points: int, max_delay: float) -> list[Item] | None:
        """Block until *max_points* points wait, the oldest item is *max_delay* seconds old,
        or the buffer is closed; then remove and return the oldest items (at most
        *max_points* points, but always at least one item). None once closed and empty."""
        with self._cond:
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
            total = len(taken[0].points)
            while self._items and total + len(self._items[0].points) <= max_points:
                item = self._items.popleft()
                total += len(item.points)
                taken.append(item)
            self._waiting_points -= total
            return taken

    def finish(self, items: Sequence[Item]) -> None:
        with self._cond:
            self.points -= sum(len(i.points) for i in items)
            self.messages -= len(items)


def write_splitting(
    store: Store, points: Sequence[Point], on_bad: Callable[[Point, StoreRejected], None]
) -> int:
    """Write *points*; if the store rejects them, bisect to write all the good ones and
    report each bad one to *on_bad*. Returns how many were written. StoreUnavailable and
    StoreAuthFailed propagate (the caller retries the whole batch)."""
    try:
        store.write(points)
        return len(points)
    except StoreAuthFailed:
        raise
    except StoreRejected as exc:
        if len(points) == 1:
            on_bad(points[0], exc)
            return 0
        half = len(points) // 2
        return write_splitting(store, points[:half], on_bad) + write_splitting(
            store, points[half:], on_bad
        )


def _error_kind(exc: Exception) -> str:
    if isinstance(exc, StoreAuthFailed):
        return "auth"
    if isinstance(exc, StoreUnavailable):
        return "unavailable"
    return "error"


class Writer(threading.Thread):
    def __init__(
        self,
        store: Store,
        buffer: Buffer,
        metrics: IngestMetrics,
        *,
        batch_size: int = 5_000,
        max_delay: float = 0.2,
        retry_max_delay: float = 5.0,
    ) -> None:
        super().__init__(name="ingest-writer", daemon=True)
        self.store = store
        self.buffer = buffer
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.retry_max_delay = retry_max_delay
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._ensured = False

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Write what is buffered (retrying for at most *drain_timeout* s), then end."""
        self._deadline = time.monotonic() + drain_timeout
        self._stopping.set()
        self.buffer.close()

    def run(self) -> None:
        while (items := self.buffer.take(self.batch_size, self.max_delay)) is not None:
            points = [p for item in items for p in item.points]
            if points and not self._write(points):
                left = self.buffer.messages
                log.error(
                    "store still failing at shutdown: %d message(s) left unacknowledged; "
                    "the broker keeps them for the next session",
                    left,
                )
                return
            for item in items:
                item.done()
            self.buffer.finish(items)

    def _write(self, points: list[Point]) -> bool:
        """Write with retries; False if stopping and the drain deadline passed."""
        delay = 0.1
        failures = 0
        while True:
            try:
                self._ensure()
                bad: list[Point] = []
                written = write_splitting(self.store, points, partial(self._bad, bad))
            except Exception as exc:  # a bug or an odd answer must not lose data either
                kind = _error_kind(exc)
                self.metrics.write_errors.labels(kind).inc()
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.warning(
                        "store write of %d points failed (attempt %d, retrying): %s",
                        len(points),
                        failures,
                        exc,
                        exc_info=kind == "error",
                    )
                if self._stopping.is_set() and time.monotonic() >= self._deadline:
                    return False
                self.metrics.retries.inc()
                self._sleep(delay)
                delay = min(delay * 2, self.retry_max_delay)
                continue
            if failures:
                log.info("store writes work again after %d failed attempt(s)", failures)
            self.metrics.points_written.inc(written)
            if bad:
                self.metrics.write_errors.labels("rejected").inc()
                self.metrics.points_rejected.inc(len(bad))
            return True

    def _ensure(self) -> None:
        if self._ensured:
            return
        try:
            self.store.ensure()
        except StoreRejected as exc:  # e.g. no admin rights; the database may well exist
            log.warning("could not create the database (writing anyway): %s", exc)
        self._ensured = True

    @staticmethod
    def _bad(bad: list[Point], point: Point, exc: StoreRejected) -> None:
        bad.append(point)
        log.warning(
            "store refused a point, not written: measurement=%s tags=%s time=%d: %s",
            point.measurement,
            point.tags,
            point.time_ms,
            exc,
        )

    def _sleep(self, seconds: float) -> None:
        if not self._stopping.is_set():
            self._stopping.wait(seconds)
        else:
            time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))
