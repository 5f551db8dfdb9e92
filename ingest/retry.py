"""How ingest's writer retries, by the kind of failure (:func:`store.base.classify`).

What it guarantees (and :mod:`ingest.writer` relies on):

* **Transient** (the store down, slow, answering 5xx, a connection reset): retried without
  limit, with exponential backoff up to ``max_delay``. The caller acknowledges nothing
  meanwhile, so the broker holds the rest.
* **Configuration** (credentials or privileges refused, the database missing and not
  creatable, a URL that is not the store's API): also retried without limit. It is not the
  batch's fault: every batch would fail alike, so dead-lettering would move the whole stream
  into the dead-letter topic, from where someone would have to replay it, while retrying keeps
  it in the broker's persistent session, in order, flow-controlled, and written the moment
  the setting is fixed. The problem is made loud instead: one ERROR line naming it and its fix
  when it appears or changes and then once a minute, and the gauge
  ``jagajalan_ingest_store_misconfigured`` at 1 until a write goes through.
* A **refusal** is narrowed down by splitting the batch to the points that cause it (the
  others are written). Points the store refused as such (**points**: field type conflict,
  beyond retention, unparsable) are given back at once. Points refused for any other reason
  (**refused**: HTTP 413, an unexpected answer, an exception nobody expected) are tried
  ``max_attempts`` times in all, with the same backoff, then given back as refused for good:
  a batch never holds a worker's share for longer than that.
* Stopping: once the drain deadline has passed, the next failure raises :class:`GaveUp`
  (nothing is acknowledged; the broker redelivers to the next session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.metrics import IngestMetrics
from store.base import (
    MISSING_DATABASE,
    Failure,
    StoreAuthFailed,
    StoreError,
    StoreNotReady,
    classify,
)

log = logging.getLogger("ingest.writer")

#: A configuration problem that stays the same is logged again after this many seconds.
ALARM_EVERY = 60.0
FIRST_DELAY = 0.1  # seconds before the first retry; doubled up to max_delay


class DeadLetterFailed(RuntimeError):
    """The broker did not accept a dead letter (not connected, timeout, refused)."""


class GaveUp(Exception):
    """Stopping, and the drain deadline passed while an action kept failing."""


@dataclass(frozen=True)
class Refusal:
    index: int  # of the record in the batch
    error: BaseException
    attempts: int  # attempts that were refused (1 for points the store refused as such)

    @property
    def for_points(self) -> bool:
        """The store's verdict on the points themselves (else: refused for good)."""
        return classify(self.error) is Failure.POINTS


def describe(exc: BaseException) -> str:
    """An error as text for logs and dead letters: a store's own message, or the type too."""
    return str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"


def error_kind(exc: BaseException) -> str:
    """The ``kind`` label of ``jagajalan_ingest_write_errors_total`` for an unlimited retry."""
    if isinstance(exc, DeadLetterFailed):
        return "dead_letter"
    if isinstance(exc, StoreNotReady) and exc.missing == MISSING_DATABASE:
        return "configuration"  # not set up yet (`store setup`), not a login or a privilege
    if isinstance(exc, StoreAuthFailed):
        return "auth"
    kind = classify(exc)
    if kind is Failure.TRANSIENT:
        return "unavailable"
    if kind is Failure.CONFIGURATION:
        return "configuration"
    return "error"


def write_splitting(
    write: Callable[[Sequence[Any]], None], records: Sequence[Any], start: int = 0
) -> list[tuple[int, BaseException]]:
    """Write *records*; if they are refused, bisect to write all the others. Returns (index,
    error) of each record refused on its own. Transient and configuration failures propagate
    (the caller retries the whole lot; rewriting a point is harmless)."""
    try:
        write(records)
        return []
    except Exception as exc:
        if classify(exc) in (Failure.TRANSIENT, Failure.CONFIGURATION):
            raise
        if len(records) == 1:
            return [(start, exc)]
        half = len(records) // 2
        return write_splitting(write, records[:half], start) + write_splitting(
            write, records[half:], start + half
        )


class Retrier:
    """Runs the writer's store writes and dead-letter publishes under the rules above. Shared
    by the writer's threads."""

    def __init__(
        self,
        metrics: IngestMetrics,
        *,
        max_delay: float,
        max_attempts: int,
        sleep: Callable[[float], None],
        giving_up: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.max_delay = max_delay
        self.max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._giving_up = giving_up
        self._clock = clock
        self._alarm_lock = threading.Lock()
        self._alarm: tuple[str, float] | None = None  # (problem, when last logged)

    def until_done(self, action: Callable[[], Any], what: str) -> Any:
        """Run *action* until it succeeds, whatever it raises (a bug or an odd answer must not
        lose data either); raises GaveUp when stopping past the deadline."""
        delay = FIRST_DELAY
        failures = 0
        while True:
            try:
                result = action()
            except Exception as exc:
                kind = error_kind(exc)
                self.metrics.write_errors.labels(kind).inc()
                failures += 1
                if kind in ("auth", "configuration"):
                    self._raise_alarm(describe(exc))
                elif failures == 1 or failures % 10 == 0:
                    log.warning(
                        "event=retry what=%r attempt=%d kind=%s error=%r",
                        what,
                        failures,
                        kind,
                        describe(exc)[:300],
                        exc_info=kind == "error",
                    )
                if self._giving_up():
                    raise GaveUp from exc
                self.metrics.retries.inc()
                self._sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            if failures:
                log.info("event=recovered what=%r failed_attempts=%d", what, failures)
            return result

    def write(
        self,
        write: Callable[[Sequence[Any]], None],
        records: Sequence[Any],
        prepare: Callable[[], None] = lambda: None,
    ) -> list[Refusal]:
        """Store *records* (calling *prepare* first in every attempt); returns the records
        given back, oldest first: refused as points at once, or for good after
        ``max_attempts`` refused attempts."""
        todo = list(range(len(records)))
        given_back: list[Refusal] = []
        attempt = 0
        delay = FIRST_DELAY
        while True:
            subset = records if attempt == 0 else [records[i] for i in todo]

            def action(subset: Sequence[Any] = subset) -> list[tuple[int, BaseException]]:
                prepare()
                return write_splitting(write, subset)

            failed = self.until_done(action, f"store write of {len(subset)} points")
            self._clear_alarm()
            attempt += 1
            refused: list[tuple[int, BaseException]] = []
            for k, exc in failed:
                if classify(exc) is Failure.POINTS:
                    given_back.append(Refusal(todo[k], exc, attempt))
                else:
                    refused.append((todo[k], exc))
            if not refused:
                break
            self.metrics.refused_attempts.inc()
            error = refused[0][1]
            if attempt >= self.max_attempts:
                log.error(
                    "event=write_refused_for_good points=%d attempts=%d error=%r: dead-lettering"
                    " them as store_refused",
                    len(refused),
                    attempt,
                    describe(error)[:300],
                    exc_info=error if not isinstance(error, StoreError) else None,
                )
                self.metrics.dead_lettered_after_retries.inc(len(refused))
                given_back += [Refusal(index, exc, attempt) for index, exc in refused]
                break
            log.warning(
                "event=write_refused points=%d attempt=%d max_attempts=%d error=%r",
                len(refused),
                attempt,
                self.max_attempts,
                describe(error)[:300],
            )
            if self._giving_up():
                raise GaveUp from error
            self.metrics.retries.inc()
            self._sleep(delay)
            delay = min(delay * 2, self.max_delay)
            todo = [index for index, _ in refused]
        return sorted(given_back, key=lambda r: r.index)

    def _raise_alarm(self, problem: str) -> None:
        now = self._clock()
        with self._alarm_lock:
            self.metrics.misconfigured.set(1)
            if self._alarm is not None:
                last, when = self._alarm
                if last == problem and now - when < ALARM_EVERY:
                    return
            self._alarm = (problem, now)
        log.error(
            "event=store_misconfigured error=%r: no write can succeed until this is fixed;"
            " nothing is dead-lettered or acknowledged meanwhile (the broker keeps the"
            " messages), retrying every %ss",
            problem[:800],
            self.max_delay,
        )

    def _clear_alarm(self) -> None:
        if self._alarm is None:
            return
        with self._alarm_lock:
            if self._alarm is None:
                return
            self._alarm = None
            self.metrics.misconfigured.set(0)
        log.info("event=store_configuration_fixed: writing again")
