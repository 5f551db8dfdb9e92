"""Two processes write one SQLite store at once, as ingest and the indicators job do in the
demo: no ``database is locked``, every point of both is stored. Both open the file while it
is new (the schema is made once), then write small batches as fast as they can, each write
its own ``BEGIN IMMEDIATE`` transaction waiting on the other's (WAL, busy timeout)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from store.sqlite import SQLiteStore
from testkit import children

BATCHES, PER_BATCH = 300, 20

WRITER = f"""
import sys, time
from pathlib import Path
from store.sqlite import SQLiteStore
from telemetry.mapping import Point

path, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
store = SQLiteStore(path)
store.ensure()
for b in range({BATCHES}):
    store.write([
        Point("m_" + name, {{"gateway": name, "sensor": "s" + str(i)}}, {{"v": float(b)}}, b * 1000)
        for i in range({PER_BATCH})
    ])
    store.points("m_" + name, start_ms=b * 1000)  # reads between writes, as the job does
store.close()
print("done", name)
"""


def test_two_processes_write_one_new_store_at_once(tmp_path: Path) -> None:
    db, go = tmp_path / "store.sqlite", tmp_path / "go"
    procs = []
    logs = []
    for name in ("ingest", "job"):
        log = tmp_path / f"{name}.log"
        logs.append(log)
        procs.append(
            children.start(
                [sys.executable, "-c", WRITER, str(db), name, str(go)],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    go.touch()
    started = time.monotonic()
    codes = [p.wait(120) for p in procs]
    elapsed = time.monotonic() - started
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0], texts
    for text in texts:
        assert "locked" not in text and "Traceback" not in text, text
    store = SQLiteStore(db)
    try:
        assert store.count("m_ingest") == BATCHES * PER_BATCH
        assert store.count("m_job") == BATCHES * PER_BATCH
    finally:
        store.close()
    print(f"{2 * BATCHES} writes by two processes in {elapsed:.1f} s")
