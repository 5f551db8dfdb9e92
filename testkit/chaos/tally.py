"""What a chaos scenario ends with: readings taken, stored, lost, duplicates, dropped.

Two sources of "taken", both independent of the path the readings travel:

- the gateway's own counter: the spool's ``AUTOINCREMENT`` id (``sqlite_sequence``), one per
  reading ever appended (every device's readings and ``gateway_health``), read from the spool
  file once the gateway has stopped; its ``dropped`` counter from the same file;
- the emulated device ``e1`` (test_emit): it logs the index of every reading the moment the
  spool has it, so for that sensor the readings lost are known one by one.

Readings still in the spool at the stop (the stop's flush is bounded; on a slow link some
PUBACKs are not back in time) are looked up one by one: those InfluxDB holds count as
stored, the others as ``waiting`` (the next start sends them), neither as lost.

"Stored" is what InfluxDB holds for the gateway in the measurements readings go to (not the
status and batch points ingest writes beside them). A re-sent reading lands on the same point
(measurement, tags, time), so more points than readings would be a real duplicate: a reading
stored twice under different identities. ``redelivered`` counts the readings the broker
delivered more than once (harmless re-sends), from the recorder.

A reading the spool refused (disk full) was never taken: the gateway counts it in its status
(``spool_errors``) and the rig's gateway logs it (``refused.log``, testkit/gateway_cli.py).
``refused`` is that log's count; an ``e1`` reading there is not in ``emit_lost`` but in
``emit_refused``, and must not be stored.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from telemetry.codec import decode_batch
from telemetry.models import (
    BATCH_MEASUREMENT,
    DEVICE_STATUS_MEASUREMENT,
    PIPELINE_PREFIX,
    STATUS_MEASUREMENT,
    Reading,
)
from testkit.chaos.rig import EMIT, ChaosRig
from testkit.gateway import read_emit_log

NOT_READINGS = {BATCH_MEASUREMENT, STATUS_MEASUREMENT, DEVICE_STATUS_MEASUREMENT}


def is_reading_measurement(name: str) -> bool:
    """Not the status and batch points ingest writes, nor what the pipeline derives
    (``jagajalan_*``: the indicators of ``analytics run``, tagged with the gateway too)."""
    return name not in NOT_READINGS and not name.startswith(PIPELINE_PREFIX)


@dataclass
class Tally:
    taken: int  # readings the spool took (gateway's counter)
    stored: int  # points in InfluxDB for them
    lost: int  # PUBACKed by the broker (taken - dropped - in the spool) and not stored
    duplicates: int  # points beyond the readings that made them
    dropped: int  # the spool's documented overflow
    #: Still in the spool when the gateway stopped (PUBACK not back within the stop's
    #: flush on a slow link) and not in InfluxDB: kept, and sent by the next start.
    waiting: int
    emit_taken: int  # the emulated device's own log
    emit_stored: int
    emit_lost: list[int]  # indices taken by e1 and not stored
    redelivered: int  # readings the broker delivered more than once (harmless)
    refused: int = 0  # readings the spool refused (disk full), one by one from refused.log
    emit_refused: int = 0  # of them e1's
    emit_refused_stored: int = 0  # e1 readings refused and yet stored (must be 0)
    #: Readings delivered under the identity (measurement, sensor, tags, time) of another
    #: reading with other fields: one point in InfluxDB for both, the first overwritten.
    overwritten: list[str] = field(default_factory=list)

    def figures(self, prefix: str) -> dict[str, int]:
        out = {k: v for k, v in asdict(self).items() if k not in ("emit_lost", "overwritten")}
        out["emit_lost"] = len(self.emit_lost)
        out["overwritten"] = len(self.overwritten)
        return {f"{prefix}.{k}": v for k, v in out.items()}


def spool_counters(rig: ChaosRig) -> tuple[int, int, list[Reading]]:
    """(readings ever appended, dropped, the readings still waiting) from the stopped
    gateway's spool."""
    db = sqlite3.connect(f"file:{rig.spool}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        (dropped,) = db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        waiting = [
            Reading.model_validate_json(d) for (d,) in db.execute("SELECT data FROM readings")
        ]
    finally:
        db.close()
    return (row[0] if row else 0), dropped, waiting


def reading_measurements(rig: ChaosRig) -> list[str]:
    result = rig.influx.query("SHOW MEASUREMENTS", db=rig.db)
    series = result["results"][0].get("series") or [{"values": []}]
    return [row[0] for row in series[0]["values"] if is_reading_measurement(row[0])]


def stored_points(rig: ChaosRig) -> int:
    return sum(rig.store.count(m, rig.gateway) for m in reading_measurements(rig))


def _identity(measurement: str, tags: dict[str, str], time_ms: int) -> tuple:
    return measurement, tuple(sorted(tags.items())), time_ms


def already_stored(rig: ChaosRig, readings: list[Reading]) -> set[tuple]:
    """Identities of *readings* that InfluxDB holds (the broker took them before the stop)."""
    wanted = {
        _identity(r.measurement, {**r.tags, "gateway": rig.gateway, "sensor": r.sensor}, r.time)
        for r in readings
    }
    found = set()
    for m in {w[0] for w in wanted}:
        for p in rig.store.points(m, rig.gateway):
            ident = _identity(m, p.tags, p.time_ms)
            if ident in wanted:
                found.add(ident)
    return found


def tally(rig: ChaosRig, settle: float = 60) -> Tally:
    """Count, once the gateway has stopped: waits up to *settle* s for ingest to store what
    the broker took, then counts. A reading still waiting in the spool that InfluxDB already
    holds counts as stored; one it does not hold counts as waiting (neither lost nor stored:
    the next start sends it)."""
    assert rig.proc is None, "stop the gateway first: its spool is locked while it runs"
    taken, dropped, waiting = spool_counters(rig)
    expected = taken - dropped - len(waiting)  # delivered with PUBACK: all must be stored
    deliveries, contents = _deliveries(rig)
    deadline = time.monotonic() + settle
    # Two readings with one identity make one point: the count waits for one point each.
    expected_points = expected - sum(len(c) - 1 for c in contents.values())
    stored = stored_points(rig)
    while stored < expected_points and time.monotonic() < deadline:
        time.sleep(0.5)
        stored = stored_points(rig)
    time.sleep(1.0)  # anything beyond the expected would show now
    stored = stored_points(rig)
    waiting_stored = already_stored(rig, waiting)
    acked_stored = stored - len(waiting_stored)  # points of readings the broker PUBACKed
    deliveries, contents = _deliveries(rig)  # again: all of them are in by now
    overwritten = [
        f"{i[0]} {i[1]} {dict(i[2])} {i[3]}: {sorted(c)}" for i, c in contents.items() if len(c) > 1
    ]
    emit = read_emit_log(rig.emit_log)
    emit_points = {
        p.time_ms - rig.t0
        for p in rig.store.points("traffic", rig.gateway)
        if p.tags.get("sensor") == EMIT
    }
    emit_waiting = {r.time - rig.t0 for r in waiting if r.sensor == EMIT}
    refused = read_refused(rig)
    emit_refused = {t - rig.t0 for sensor, t in refused if sensor == EMIT}

    return Tally(
        taken=taken,
        stored=stored,
        lost=max(0, expected - acked_stored),
        duplicates=max(0, acked_stored - expected),
        dropped=dropped,
        waiting=len(waiting) - len(waiting_stored),
        emit_taken=len(emit),
        emit_stored=len(emit_points),
        emit_lost=sorted(set(emit) - emit_points - emit_waiting - emit_refused),
        redelivered=sum(n - 1 for n in deliveries.values()),
        refused=len(refused),
        emit_refused=len(emit_refused),
        emit_refused_stored=len(emit_refused & emit_points),
        overwritten=overwritten,
    )


def _deliveries(rig: ChaosRig) -> tuple[Counter[tuple], dict[tuple, set[str]]]:
    """What the recorder saw: deliveries per (identity, fields), and the fields seen per
    identity (measurement, sensor, tags, time)."""
    deliveries: Counter[tuple] = Counter()
    contents: dict[tuple, set[str]] = {}
    for m in rig.recorder.on(f"jagajalan/v1/{rig.gateway}/readings"):
        for r in decode_batch(m.payload).readings:
            ident = (r.measurement, r.sensor, tuple(sorted(r.tags.items())), r.time)
            content = json.dumps(r.fields, sort_keys=True)
            deliveries[(ident, content)] += 1
            contents.setdefault(ident, set()).add(content)
    return deliveries, contents


def read_refused(rig: ChaosRig) -> list[tuple[str, int]]:
    """(sensor, time ms) of each reading the spool refused, from the gateway's refused.log."""
    if not rig.refused_log.exists():
        return []
    rows = [line.split() for line in rig.refused_log.read_text().splitlines()]
    return [(r[0], int(r[1])) for r in rows if len(r) == 2]
