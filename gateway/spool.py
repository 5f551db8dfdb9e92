"""The durable spool: every reading goes to disk here before anything is published.

Drivers' sinks call :meth:`Spool.append`; the publisher takes batches with
:meth:`Spool.next_batch`, publishes them at QoS 1 and calls :meth:`Spool.ack` on the broker's
PUBACK, which deletes the rows. A reading therefore leaves the gateway's disk only once the
broker has taken responsibility for it; a crash, reboot or broker outage at any point loses
nothing that was appended (within the fsync policy below).

Sequence numbers (``seq``)
    ``next_batch`` assigns the next ``seq`` from a counter kept in the ``meta`` table, in the
    same transaction that marks the rows with it, so a seq is never assigned twice, also
    across restarts. **A batch keeps its seq until it is acknowledged**: if the gateway stops
    before the PUBACK arrives, the next run (or a :meth:`Spool.release` after the broker
    refused it) hands out exactly the same rows with the same seq again. Within one run, paho
    itself re-sends unacknowledged messages after a reconnect (same payload, DUP flag).
    So for a receiver a repeated seq always means "redelivery of a batch I may already have"
    (harmless: a reading maps to the same InfluxDB point), and a gap in the seqs means readings
    were really lost (only when the spool overflowed, counted in ``dropped``), never a false
    alarm from a retry.

fsync policy
    SQLite in WAL mode with ``synchronous=NORMAL`` for appends and acks: each commit is one
    append to the WAL without an fsync, so a process crash (bug, OOM kill, SIGKILL) loses
    nothing once :meth:`append` has returned, and the SD card of a small gateway is not worn
    by an fsync for every reading. The transaction that assigns a seq runs with
    ``synchronous=FULL``: that fsync makes the seq counter and every reading appended before it
    durable against power loss, so after a power cut the counter never goes back (no reused
    seq) and at most the readings of the last ``max_delay`` seconds (about one second) are
    lost; a rolled-back ack only causes a harmless re-send with the same seq.

Bound
    At most ``max_readings`` rows are kept. When an append would exceed it, the oldest rows are
    deleted and counted in the persisted ``dropped`` counter (shown in the status).

Thread safety: one connection, every call holds one lock. ``locking_mode=EXCLUSIVE`` makes a
second process opening the same spool fail at once instead of interleaving seqs.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from telemetry.models import Reading

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids are the spool's order
    t    REAL NOT NULL,                      -- wall-clock time of the append, s since epoch
    seq  INTEGER,                            -- batch it was handed out in; NULL = not yet
    data TEXT NOT NULL                       -- the reading as compact JSON
);
CREATE INDEX IF NOT EXISTS readings_unbatched ON readings(id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS readings_seq ON readings(seq) WHERE seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 0), ('dropped', 0);
"""

#: Largest number of SQL variables used in one statement (SQLite allows 32766).
_CHUNK = 500
#: Seconds between two "spool full" warnings.
_DROP_LOG_INTERVAL = 60.0

Batch = tuple[int, list[Reading], list[int]]


class SpoolError(RuntimeError):
    """The spool cannot be opened (in use by another process, not a database, ...)."""


class Spool:
    def __init__(
        self,
        path: str | Path,
        max_readings: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_readings = max_readings
        self.clock = clock
        self._lock = threading.Lock()
        self._claimed: set[int] = set()  # seqs handed out in this run and not released
        self._last_drop_log = float("-inf")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=0.5, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from None
        try:
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA journal_size_limit=67108864")
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            self._depth = self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
            self._dropped = self._meta("dropped")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise SpoolError(f"spool {self.path} is in use by another process") from None
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from None

    # -- producer side ------------------------------------------------------------------------

    def append(self, readings: Sequence[Reading]) -> None:
        """Persist *readings*; when this returns they survive a crash of the process."""
        if not readings:
            return
        now = self.clock()
        rows = [(now, r.model_dump_json(exclude_defaults=True)) for r in readings]
        with self._lock, self._tx():
            self._db.executemany("INSERT INTO readings (t, data) VALUES (?, ?)", rows)
            self._depth += len(rows)
            if self._depth > self.max_readings:
                self._drop_oldest(self._depth - self.max_readings)

    # -- publisher side -----------------------------------------------------------------------

    def next_batch(self, max_readings: int, max_delay: float = 0.0) -> Batch | None:
        """The next batch to publish as ``(seq, readings, row_ids)``, or None.

        First a batch handed out before and not acknowledged (from an earlier run, or
        released), with its original seq. Otherwise a new batch of the oldest readings not yet
        in a batch, under a new seq: only when there are *max_readings* of them or the oldest
        has waited *max_delay* seconds.
        """
        with self._lock:
            batched = [
                s
                for (s,) in self._db.execute(
                    "SELECT DISTINCT seq FROM readings WHERE seq IS NOT NULL ORDER BY seq"
                )
            ]
            self._claimed &= set(batched)  # forget batches whose rows are all gone
            for seq in batched:
                if seq not in self._claimed:
                    rows = self._db.execute(
                        "SELECT id, data FROM readings WHERE seq = ? ORDER BY id", (seq,)
                    ).fetchall()
                    readings, ids = self._parse(rows)
                    self._claimed.add(seq)
                    if readings:
                        return seq, readings, ids
            rows = self._db.execute(
                "SELECT id, t, data FROM readings WHERE seq IS NULL ORDER BY id LIMIT ?",
                (max_readings,),
            ).fetchall()
            if not rows:
                return None
            age = self.clock() - rows[0][1]
            if len(rows) < max_readings and 0 <= age < max_delay:
                return None
            readings, ids = self._parse([(row_id, data) for row_id, _, data in rows])
            if not readings:
                return None
            # FULL for this one commit: see "fsync policy" in the module docstring.
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                with self._tx():
                    seq = self._meta("next_seq")
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
                    self._db.execute(
                        "UPDATE readings SET seq = ? WHERE seq IS NULL AND id <= ?",
                        (seq, rows[-1][0]),
                    )
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._claimed.add(seq)
            return seq, readings, ids

    def ack(self, row_ids: Iterable[int]) -> None:
        """The broker has the batch: delete its rows."""
        ids = list(row_ids)
        with self._lock, self._tx():
            for chunk in _chunks(ids):
                cur = self._db.execute(
                    f"DELETE FROM readings WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
                self._depth -= cur.rowcount

    def release(self, seq: int) -> None:
        """Hand batch *seq* out again from :meth:`next_batch` (its publish failed)."""
        with self._lock:
            self._claimed.discard(seq)

    # -- health -------------------------------------------------------------------------------

    def depth(self) -> int:
        """Readings on disk, not yet acknowledged by the broker."""
        with self._lock:
            return self._depth

    def dropped(self) -> int:
        """Readings deleted because the spool was full, over the life of this spool file."""
        with self._lock:
            return self._dropped

    def oldest_age(self) -> float | None:
        """Seconds since the oldest reading still in the spool was appended; None if empty."""
        with self._lock:
            row = self._db.execute("SELECT t FROM readings ORDER BY id LIMIT 1").fetchone()
        return None if row is None else max(0.0, self.clock() - row[0])

    def next_seq(self) -> int:
        """The seq the next new batch will get."""
        with self._lock:
            return self._meta("next_seq")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (called with the lock held) ------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _meta(self, key: str) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _drop_oldest(self, count: int) -> None:
        cur = self._db.execute(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)",
            (count,),
        )
        self._count_dropped(cur.rowcount)
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
            self._last_drop_log = now
            log.warning(
                "spool %s is full (%d readings): dropped the oldest; %d dropped in total",
                self.path,
                self.max_readings,
                self._dropped,
            )

    def _count_dropped(self, count: int) -> None:
        self._depth -= count
        self._dropped += count
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'dropped'", (self._dropped,))

    def _parse(self, rows: list[tuple[int, str]]) -> tuple[list[Reading], list[int]]:
        """Rows to readings; a row that no longer parses is deleted and counted as dropped."""
        readings, ids, bad = [], [], []
        for row_id, data in rows:
            try:
                readings.append(Reading.model_validate_json(data))
                ids.append(row_id)
            except ValidationError as exc:
                log.error("spool row %d is not a valid reading, deleting it: %s", row_id, exc)
                bad.append(row_id)
        if bad:
            with self._tx():
                for chunk in _chunks(bad):
                    self._db.execute(
                        f"DELETE FROM readings WHERE id IN ({','.join('?' * len(chunk))})", chunk
                    )
                self._count_dropped(len(bad))
        return readings, ids


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
