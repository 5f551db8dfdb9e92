"""The spool's SQLite schema and statements (gateway/runtime/spool.py)."""

from __future__ import annotations

from collections.abc import Iterator

from telemetry.models import MIN_TIME_MS

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids are the spool's order
    t    REAL NOT NULL,                      -- wall-clock time of the append, s since epoch
    seq  INTEGER,                            -- batch it was handed out in; NULL = not yet
    data TEXT NOT NULL                       -- the reading as compact JSON
);
CREATE INDEX IF NOT EXISTS readings_unbatched ON readings(id) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS readings_seq ON readings(seq) WHERE seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 0), ('dropped', 0), ('syncs', 0);
"""

#: Largest number of SQL variables used in one statement (SQLite allows 32766).
CHUNK = 500
#: Held readings get their real time (Spool.redate): parameters shift ms, shift s, below ms.
REDATE = (
    "UPDATE readings SET data = json_set(data, '$.time', json_extract(data, '$.time') + ?1), "
    "t = t + ?2 WHERE seq IS NULL AND json_extract(data, '$.time') < ?3 "
    f"AND json_extract(data, '$.time') >= {MIN_TIME_MS}"
)

#: Integers kept in the meta table (Spool.set_meta), and the readings appended before a time.
SET_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
APPENDED_BEFORE = "SELECT MAX(t), COUNT(*) FROM readings WHERE t < ?"
#: Rows by id: ``format`` with one ``?`` per id (at most CHUNK).
DELETE_IDS = "DELETE FROM readings WHERE id IN ({})"


def chunks(items: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
