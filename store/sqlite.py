"""SQLite backend of the store: the embedded choice for demos, tests and one-box sites.

It keeps InfluxDB 1.x semantics, so that the two backends pass one contract test suite:

- A point is identified by (measurement, tag set, time_ms). Writing it again merges its
  fields into the stored ones, the later values winning. Tags with an empty value are dropped
  (InfluxDB refuses them; an empty tag is the same as none).
- A field's type (integer, float, string, boolean) is fixed per measurement by the first write
  that holds it. A point carrying a field of another type is refused *whole*, exactly like
  InfluxDB's "field type conflict"; so are points without fields, with non-finite floats or
  with integers outside int64 (InfluxDB refuses those lines as unparsable).
- A write is a *partial write*, as in InfluxDB 1.x: the valid points are stored (atomically,
  in one transaction), then :class:`StoreRejected` is raised naming the first problem and the
  number of dropped points, e.g. ``partial write: field type conflict: input field "count" on
  measurement "traffic" is type float, already exists as type integer dropped=1``. Within one
  write, the first point holding a new field fixes its type for the points after it.

Two differences, on purpose. InfluxDB fixes a field's type per shard (a week by default), so
it would accept another type in another week; here the type is fixed per measurement for the
whole database (stricter, and what docs/protocol.md 2.2 demands). InfluxDB 1.6 refuses a whole
write when a type conflict sits inside the very write that creates the shard; here such a write
is partial like any other.

Layout: ``series`` (measurement + tag set), ``points`` (series, time, fields as JSON merged
with ``json_patch``), ``field_types``, and ``latest`` (newest value per series and field,
kept on write): latest() and gateways() read a few rows per sensor, whatever the point count.

Concurrency: one connection per thread (ingest's writer thread and the API's worker threads use
the same store object), WAL journal so readers never block the writer, and ``BEGIN IMMEDIATE``
so that the type checks and the write of a batch are one atomic step, also against another
process writing to the same file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from store import sqlite_latest
from store.base import (
    GatewaySeen,
    LatestValue,
    SeriesQuery,
    SeriesRow,
    Store,
    StoreRejected,
    StoreUnavailable,
)
from store.semantics import CASTS, clean_tags, field_kind, point_problem
from telemetry.mapping import Point

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id          INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    tagkey      TEXT NOT NULL,  -- canonical JSON of the sorted tags: the series identity
    tags        TEXT NOT NULL,  -- JSON object of all tags
    gateway     TEXT,           -- the gateway tag, copied out for filtering
    sensor      TEXT,           -- the sensor tag
    UNIQUE (measurement, tagkey)
);
CREATE INDEX IF NOT EXISTS series_by_gateway ON series (gateway, measurement);
CREATE TABLE IF NOT EXISTS points (
    series_id INTEGER NOT NULL REFERENCES series (id),
    time_ms   INTEGER NOT NULL,
    fields    TEXT NOT NULL,    -- JSON object field -> value
    PRIMARY KEY (series_id, time_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL,
    field       TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('integer', 'float', 'string', 'boolean')),
    PRIMARY KEY (measurement, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    series_id INTEGER NOT NULL REFERENCES series (id),
    field     TEXT NOT NULL,
    time_ms   INTEGER NOT NULL,
    value     ANY,              -- no affinity: INTEGER, REAL and TEXT are kept as written
    PRIMARY KEY (series_id, field)
) WITHOUT ROWID;
"""

_UPSERT_POINT = """
INSERT INTO points (series_id, time_ms, fields) VALUES (?, ?, ?)
ON CONFLICT (series_id, time_ms) DO UPDATE SET fields = json_patch(points.fields, excluded.fields)
"""
# ">=": rewriting the newest point again overwrites, as the merge of the point itself does.
_UPSERT_LATEST = """
INSERT INTO latest (series_id, field, time_ms, value) VALUES (?, ?, ?, ?)
ON CONFLICT (series_id, field) DO UPDATE SET time_ms = excluded.time_ms, value = excluded.value
WHERE excluded.time_ms >= latest.time_ms
"""


def _field_types(
    conn: sqlite3.Connection, measurements: Iterable[str]
) -> dict[tuple[str, str], str]:
    ms = sorted(set(measurements))
    rows = conn.execute(
        "SELECT measurement, field, type FROM field_types "
        f"WHERE measurement IN ({','.join('?' * len(ms))})",
        ms,
    )
    return {(m, f): t for m, f, t in rows}


class SQLiteStore(Store):
    """The store in one SQLite file (WAL mode); see the module docstring for the semantics."""

    backend = "sqlite"

    def __init__(self, path: str | Path, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _connections and _series
        self._connections: list[sqlite3.Connection] = []
        self._series: dict[tuple[str, str], int] = {}  # committed series ids (never change)

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            self._wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._create_schema(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode, once per file (it stays set). Switching to it needs the file to itself,
        and SQLite answers "database is locked" at once, not after the busy timeout, while
        another process opens the same new file: retried until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._conn()
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    # -- Store interface ---------------------------------------------------------------------

    def ensure(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        self._conn()  # creates the schema when the file is new

    def check_write(self) -> None:
        """The embedded store has no users: a writer may create its own file, so this is
        :meth:`ensure` (StoreUnavailable if the file cannot be made or opened)."""
        self.ensure()

    def check_read(self) -> None:
        self._read("SELECT count(*) FROM sqlite_master")

    def ping(self) -> bool:
        try:
            self._read("SELECT count(*) FROM sqlite_master")
        except StoreUnavailable:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        try:
            problems, new_series = self._write_in_transaction(conn, points)
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
            raise
        with self._lock:
            self._series.update(new_series)
        if problems:
            raise StoreRejected(f"partial write: {problems[0]} dropped={len(problems)}")

    def _write_in_transaction(
        self, conn: sqlite3.Connection, points: Sequence[Point]
    ) -> tuple[list[str], dict[tuple[str, str], int]]:
        types = _field_types(conn, {p.measurement for p in points})
        problems: list[str] = []
        new_types: list[tuple[str, str, str]] = []
        new_series: dict[tuple[str, str], int] = {}
        point_rows: list[tuple[int, int, str]] = []
        latest_rows: list[tuple[int, str, int, Any]] = []
        for point in points:
            problem = point_problem(point, types)
            if problem is not None:
                problems.append(problem)
                continue
            for name, value in point.fields.items():
                key = (point.measurement, name)
                if key not in types:
                    types[key] = field_kind(value) or "float"  # never None: checked above
                    new_types.append((point.measurement, name, types[key]))
            series_id = self._series_id(conn, point, new_series)
            point_rows.append((series_id, point.time_ms, json.dumps(point.fields)))
            latest_rows.extend(
                (series_id, name, point.time_ms, value) for name, value in point.fields.items()
            )
        conn.executemany("INSERT INTO field_types VALUES (?, ?, ?)", new_types)
        conn.executemany(_UPSERT_POINT, point_rows)
        conn.executemany(_UPSERT_LATEST, latest_rows)
        return problems, new_series

    def _series_id(
        self, conn: sqlite3.Connection, point: Point, new: dict[tuple[str, str], int]
    ) -> int:
        tags = clean_tags(point.tags)
        tagkey = json.dumps(tags, separators=(",", ":"))
        key = (point.measurement, tagkey)
        with self._lock:
            known = self._series.get(key)
        if known is not None:
            return known
        if key in new:
            return new[key]
        row = conn.execute(
            "SELECT id FROM series WHERE measurement = ? AND tagkey = ?", key
        ).fetchone()
        if row is None:
            cur = conn.execute(
                "INSERT INTO series (measurement, tagkey, tags, gateway, sensor) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, tagkey, tags.get("gateway"), tags.get("sensor")),
            )
            row = (cur.lastrowid,)
        new[key] = row[0]
        return row[0]

    def _types(self, measurements: Iterable[str]) -> dict[tuple[str, str], str]:
        try:
            return _field_types(self._conn(), measurements)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    @staticmethod
    def _typed(value: Any, kind: str | None) -> Any:
        return CASTS[kind](value) if kind in CASTS else value

    def points(
        self,
        measurement: str,
        gateway: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Point]:
        sql = (
            "SELECT s.tags, p.time_ms, p.fields FROM points p JOIN series s ON s.id = p.series_id "
            "WHERE s.measurement = ?"
        )
        params: list[Any] = [measurement]
        if gateway is not None:
            sql += " AND s.gateway = ?"
            params.append(gateway)
        if start_ms is not None:
            sql += " AND p.time_ms >= ?"
            params.append(int(start_ms))
        if end_ms is not None:
            sql += " AND p.time_ms < ?"
            params.append(int(end_ms))
        return self._points(measurement, sql + " ORDER BY p.time_ms, p.series_id", params)

    def newest(
        self, measurement: str, gateway: str | None = None, before_ms: int | None = None
    ) -> list[Point]:
        # One index lookup per series: points' primary key is (series_id, time_ms).
        before = "" if before_ms is None else " AND q.time_ms < ?"
        sql = (
            "SELECT s.tags, p.time_ms, p.fields FROM series s JOIN points p ON p.series_id = s.id "
            "WHERE s.measurement = ? AND p.time_ms = (SELECT max(q.time_ms) FROM points q "
            f"WHERE q.series_id = s.id{before})"
        )
        params: list[Any] = [measurement]
        if before_ms is not None:
            params.append(int(before_ms))
        if gateway is not None:
            sql += " AND s.gateway = ?"
            params.append(gateway)
        return self._points(measurement, sql + " ORDER BY s.tagkey", params)

    def _points(self, measurement: str, sql: str, params: Sequence[Any]) -> list[Point]:
        rows = self._read(sql, params)
        types = self._types([measurement])
        result = []
        for tags, time_ms, fields in rows:
            values = {
                name: self._typed(value, types.get((measurement, name)))
                for name, value in json.loads(fields).items()
            }
            result.append(Point(measurement, json.loads(tags), values, time_ms))
        return result

    def series(self, query: SeriesQuery, after_ms: int | None, limit: int) -> list[SeriesRow]:
        from store.series import sqlite_series

        return sqlite_series(self, query, after_ms, limit)

    def count(self, measurement: str, gateway: str | None = None) -> int:
        sql = (
            "SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id "
            "WHERE s.measurement = ?"
        )
        params: list[Any] = [measurement]
        if gateway is not None:
            sql += " AND s.gateway = ?"
            params.append(gateway)
        return int(self._read(sql, params)[0][0])

    def latest(
        self, gateway: str | None = None, measurement: str | None = None
    ) -> list[LatestValue]:
        return sqlite_latest.latest(self, gateway, measurement)

    def gateways(self) -> list[GatewaySeen]:
        return sqlite_latest.gateways(self)
