"""Whether the store may be written, said once and clearly, checked until it may.

Guarantees, for a service that holds a :class:`~store.base.StoreWriter` (ingest):

- :meth:`StoreReadiness.check` asks the store (``check_write``: for InfluxDB an empty
  ``/write``, which writes nothing) and raises the StoreError when the database is missing,
  the login is refused, the user lacks WRITE, or the store is unreachable. The writer calls it
  before its first write and retries with its backoff, so nothing is written or acknowledged
  before it passes: the broker keeps the messages.
- :meth:`StoreReadiness.poll` (from the service's loop) re-checks every *interval* seconds
  while the store is not ready, also when no message is waiting, so the log says at start
  what is missing and says when it is fixed.
- A write that finds the store no longer ready (e.g. the database dropped) counts as a failed
  check (:meth:`StoreReadiness.guard`).
- While not ready, one ``event=store_not_ready`` line is logged naming the database, the user,
  what is missing and the ``jagajalan store setup`` command that fixes it; again when the
  problem changes and every :data:`REMINDER` seconds while it lasts. ``event=store_ready``
  follows once the store may be written, without a restart. Never a secret in either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from store import privileges
from store.base import StoreError, StoreNotReady, StoreWriter

log = logging.getLogger(__name__)

#: While the store is not ready, repeat the event=store_not_ready line this often (s).
REMINDER = 300.0


class StoreReadiness:
    def __init__(self, store: StoreWriter, service: str, interval: float = 5.0) -> None:
        self.store = store
        self.service = service  # a service of store.privileges.SERVICE_USERS
        self.interval = interval
        self._lock = threading.Lock()
        self._problem: str | None = "not checked yet"  # None: the last check passed
        self._logged: tuple[str, float] | None = None  # the line logged, and when
        self._checked = float("-inf")

    @property
    def ready(self) -> bool:
        return self._problem is None

    def check(self) -> None:
        """Return if the store may be written now; else log what is missing and raise."""
        self._checked = time.monotonic()
        try:
            self.store.check_write()
        except StoreError as exc:
            self._failed(exc)
            raise
        self._ok()

    def poll(self) -> None:
        """Check again if the store is not ready and the last check is *interval* s old."""
        if self._problem is not None and time.monotonic() >= self._checked + self.interval:
            try:
                self.check()
            except StoreError:
                return  # logged by check()

    def guard(self, write: Callable[[Sequence[Any]], None]) -> Callable[[Sequence[Any]], None]:
        """*write*, noting a store that is no longer ready, and one that is ready again."""

        def guarded(records: Sequence[Any]) -> None:
            try:
                write(records)
            except StoreNotReady as exc:
                self._failed(exc)
                raise
            if self._problem is not None:
                self._ok()

        return guarded

    def _failed(self, exc: StoreError) -> None:
        store = self.store
        database = getattr(store, "database", "-")
        user = getattr(store, "username", None) or "-"
        if isinstance(exc, StoreNotReady):
            missing = exc.missing
            text = privileges.explain(self.service, exc, getattr(store, "url", ""))
        else:
            missing, text = "connection", str(exc)
        line = f"database={database} user={user} missing={missing}: {text}"
        now = time.monotonic()
        with self._lock:
            self._problem = line
            last = self._logged
            if last is not None and last[0] == line and now - last[1] < REMINDER:
                return
            self._logged = (line, now)
        log.error("event=store_not_ready %s (waiting: nothing is acknowledged until then)", line)

    def _ok(self) -> None:
        with self._lock:
            was, self._problem = self._problem, None
            self._logged = None
        if was is not None:
            store = self.store
            log.info(
                "event=store_ready database=%s user=%s: writing",
                getattr(store, "database", "-"),
                getattr(store, "username", None) or "-",
            )
