"""The durable spool: every reading goes to disk here before anything is published.

Drivers' sinks call :meth:`Spool.append`; the publisher takes batches with
:meth:`Spool.next_batch`, publishes them at QoS 1 and calls :meth:`Spool.ack` on the broker's
PUBACK, which deletes the rows. A reading therefore leaves the gateway's disk only once the
broker has taken responsibility for it; a crash, reboot or broker outage at any point loses
nothing that was appended (within the fsync policy below).

Order and lanes
    Rows are kept in append order (``id``, never reused). :meth:`next_batch` hands out the
    oldest rows of an id range first: ``after``/``up_to`` let the publisher keep two lanes,
    the backlog (rows that were waiting when the broker connection came up) and the fresh
    rows appended since (see :mod:`gateway.runtime.replay`).

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

fsync policy (what survives what)
    SQLite in WAL mode. Appends and acks commit with ``synchronous=NORMAL``: each commit is
    one append to the WAL file *without* an fsync. The data is then in the kernel's page
    cache, so **a process crash (SIGKILL, OOM kill, a bug) loses nothing once**
    :meth:`append` **has returned**. Against **power loss** the WAL is fsynced by a
    ``synchronous=FULL`` commit (an fsync of the WAL covers every frame before it):

    * :meth:`sync`, which the publisher thread calls every half second, does one when
      readings were appended since the last fsync and that fsync is ``fsync_interval``
      seconds old (default 1 s). A power cut therefore loses at most the readings of about
      the last ``fsync_interval`` + 0.5 seconds, also during a broker outage, and the SD card
      of a small gateway sees at most one fsync per interval instead of one per reading.
      ``fsync_interval = 0`` fsyncs every append before it returns (the safest and most
      wearing setting).
    * the transaction that assigns a seq is always FULL, so after a power cut the seq counter
      never goes back (no seq is reused for other readings);
    * acks stay NORMAL: an ack lost to a power cut only causes a harmless re-send with the
      same seq.

    WAL frames carry checksums, so after a power cut SQLite recovers the last complete
    commit; a torn write never corrupts the spool.

Bound
    At most ``max_readings`` rows are kept. When an append would exceed it, the oldest rows
    are deleted and counted in the persisted ``dropped`` counter (shown in the status). Rows
    of batches in flight in this run (published, PUBACK pending: at most ``max_inflight``
    batches) are spared: paho re-sends them after a reconnect, so deleting them would count
    readings as dropped that still reach the broker.

Holding
    While :attr:`Spool.held` is set, :meth:`next_batch` hands out nothing (the gateway clock is
    not set: gateway/runtime/clock.py, which keeps its state across boots with
    :meth:`set_meta`); :meth:`redate` gives the held readings their real times.

Thread safety: one connection, every call holds one lock. ``locking_mode=EXCLUSIVE`` makes
a second process opening the same spool fail at once instead of interleaving seqs.
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

from gateway.runtime import spool_schema as sql
from telemetry.models import Reading

log = logging.getLogger(__name__)

#: Seconds between two "spool full" (or "cannot write") log lines.
_DROP_LOG_INTERVAL = 60.0

Batch = tuple[int, list[Reading], list[int]]


class SpoolError(RuntimeError):
    """The spool cannot be opened (in use, not a database) or written (disk full, I/O)."""


class Spool:
    def __init__(
        self,
        path: str | Path,
        max_readings: int = 1_000_000,
        clock: Callable[[], float] = time.time,
        *,
        fsync_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.max_readings = max_readings
        self.clock = clock
        self.fsync_interval = fsync_interval
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._claimed: set[int] = set()  # seqs handed out in this run and not released
        self._last_drop_log = float("-inf")
        self._unsynced = False  # appended since the last fsync of the WAL
        self._last_sync = monotonic()
        self.held = False  # hand out no batch (gateway/runtime/clock.py: clock not set)
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
            self._db.executescript(f"BEGIN IMMEDIATE; {sql.SCHEMA} COMMIT;")
            self._depth = self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
            self._dropped = self._meta("dropped")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise SpoolError(f"spool {self.path} is in use by another process") from None
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from None

    # -- producer side ------------------------------------------------------------------------

    def append(self, readings: Sequence[Reading]) -> None:
        """Persist *readings*; when this returns they survive a crash of the process.

        Raises :class:`SpoolError` if the spool cannot be written (disk full, I/O error).
        """
        if not readings:
            return
        now = self.clock()
        rows = [(now, r.model_dump_json(exclude_defaults=True)) for r in readings]
        with self._lock:
            try:
                with self._durable(self.fsync_interval == 0), self._tx():
                    self._db.executemany("INSERT INTO readings (t, data) VALUES (?, ?)", rows)
                    depth = self._depth + len(rows)
                    if depth > self.max_readings:
                        depth -= self._drop_oldest(depth - self.max_readings)
            except sqlite3.Error as exc:
                self._depth = self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
                self._dropped = self._meta("dropped")
                raise SpoolError(f"cannot write to spool {self.path}: {exc}") from None
            self._depth = depth
            self._unsynced = self.fsync_interval != 0

    def sync(self, force: bool = False) -> bool:
        """fsync the WAL if readings were appended since the last fsync and that fsync is
        ``fsync_interval`` old (or *force*). Returns whether it did. See "fsync policy"."""
        with self._lock:
            if not self._unsynced:
                return False
            if not force and self.monotonic() - self._last_sync < self.fsync_interval:
                return False
            with self._errors(), self._durable(True), self._tx():
                self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'syncs'")
            return True

    # -- publisher side -----------------------------------------------------------------------

    def next_batch(
        self,
        max_readings: int,
        max_delay: float = 0.0,
        *,
        after: int = 0,
        up_to: int | None = None,
    ) -> Batch | None:
        """The next batch to publish as ``(seq, readings, row_ids)``, or None.

        Only rows with ``after < id <= up_to`` are considered (the publisher's lanes). First a
        batch handed out before and not acknowledged (from an earlier run, or released), with
        its original seq. Otherwise a new batch of the oldest readings not yet in a batch,
        under a new seq: only when there are *max_readings* of them or the oldest has waited
        *max_delay* seconds.
        """
        top = up_to if up_to is not None else 2**63 - 1
        if self.held:
            return None
        with self._lock, self._errors():
            batched = self._db.execute(
                "SELECT seq, MIN(id) FROM readings WHERE seq IS NOT NULL GROUP BY seq ORDER BY seq"
            ).fetchall()
            self._claimed &= {seq for seq, _ in batched}  # forget batches whose rows are gone
            for seq, first in batched:
                if seq not in self._claimed and after < first <= top:
                    rows = self._db.execute(
                        "SELECT id, data FROM readings WHERE seq = ? ORDER BY id", (seq,)
                    ).fetchall()
                    readings, ids = self._parse(rows)
                    self._claimed.add(seq)
                    if readings:
                        return seq, readings, ids
            rows = self._db.execute(
                "SELECT id, t, data FROM readings WHERE seq IS NULL AND id > ? AND id <= ? "
                "ORDER BY id LIMIT ?",
                (after, top, max_readings),
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
            with self._durable(True), self._tx():
                seq = self._meta("next_seq")
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
                self._db.execute(
                    "UPDATE readings SET seq = ? WHERE seq IS NULL AND id >= ? AND id <= ?",
                    (seq, ids[0], ids[-1]),
                )
            self._claimed.add(seq)
            return seq, readings, ids

    def redate(self, below_ms: int, shift_ms: int) -> int:
        """Add *shift_ms* to the time of every reading not yet in a batch whose time is
        before *below_ms* (2000-01-01 or later), and the matching seconds to its append
        time: held readings with provisional times get their real ones
        (gateway/runtime/clock.py). Returns how many."""
        with self._lock, self._errors(), self._durable(True), self._tx():
            cur = self._db.execute(sql.REDATE, (shift_ms, shift_ms / 1000, below_ms))
            return cur.rowcount

    def meta(self, *keys: str) -> dict[str, int]:
        """The integers kept under *keys* by :meth:`set_meta` (those ever set)."""
        marks = ",".join("?" * len(keys))
        with self._lock, self._errors():
            return dict(self._db.execute(f"SELECT * FROM meta WHERE key IN ({marks})", keys))

    def set_meta(self, **values: int) -> None:
        """Keep integers in the spool, durably (gateway/runtime/clock.py's, across boots)."""
        with self._lock, self._errors(), self._durable(True), self._tx():
            self._db.executemany(sql.SET_META, values.items())

    def appended_before(self, t: float) -> tuple[float | None, int]:
        """The latest append time before *t* (None if none) and how many readings have one."""
        with self._lock, self._errors():
            return self._db.execute(sql.APPENDED_BEFORE, (t,)).fetchone()

    def ack(self, row_ids: Iterable[int]) -> None:
        """The broker has the batch: delete its rows."""
        ids = list(row_ids)
        with self._lock, self._errors(), self._tx():
            self._depth -= self._delete(ids)

    def release(self, seq: int) -> None:
        """Hand batch *seq* out again from :meth:`next_batch` (its publish failed)."""
        with self._lock:
            self._claimed.discard(seq)

    def unacknowledged(self) -> list[tuple[int, int]]:
        """``(seq, readings)`` of batches handed out but not acknowledged, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, COUNT(*) FROM readings WHERE seq IS NOT NULL GROUP BY seq ORDER BY seq"
            ).fetchall()

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

    def oldest_id(self) -> int | None:
        """Row id of the oldest reading in the spool; None if empty."""
        with self._lock:
            return self._db.execute("SELECT MIN(id) FROM readings").fetchone()[0]

    def last_id(self) -> int | None:
        """Row id of the newest reading in the spool; None if empty."""
        with self._lock:
            return self._db.execute("SELECT MAX(id) FROM readings").fetchone()[0]

    def next_seq(self) -> int:
        """The seq the next new batch will get."""
        with self._lock:
            return self._meta("next_seq")

    def close(self) -> None:
        with self._lock:
            self._db.close()  # checkpoints the WAL into the database file, with fsyncs

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
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite errors while the spool is open (disk full, I/O error) as :class:`SpoolError`."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot write to spool {self.path}: {exc}") from None

    @contextlib.contextmanager
    def _durable(self, full: bool) -> Iterator[None]:
        """Commit the transaction inside with ``synchronous=FULL`` (an fsync) if *full*."""
        if not full:
            yield
            return
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._unsynced = False
        self._last_sync = self.monotonic()

    def _delete(self, ids: list[int]) -> int:
        """Delete the rows *ids* (in the caller's transaction); how many there were."""
        return sum(
            self._db.execute(sql.DELETE_IDS.format(",".join("?" * len(c))), c).rowcount
            for c in sql.chunks(ids)
        )

    def _meta(self, key: str) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def _drop_oldest(self, count: int) -> int:
        claimed = sorted(self._claimed)
        spare = f"AND (seq IS NULL OR seq NOT IN ({','.join('?' * len(claimed))}))"
        cur = self._db.execute(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE 1 "
            f"{spare if claimed else ''} ORDER BY id LIMIT ?)",
            (*claimed, count),
        )
        dropped = cur.rowcount
        self._dropped += dropped
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'dropped'", (self._dropped,))
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
            self._last_drop_log = now
            log.warning(
                "spool %s is full (%d readings): dropped the oldest; %d dropped in total",
                self.path,
                self.max_readings,
                self._dropped,
            )
        return dropped

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
                self._depth -= self._delete(bad)
                self._dropped += len(bad)
                self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'dropped'", (self._dropped,)
                )
        return readings, ids
