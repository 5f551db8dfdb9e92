"""The durable spool: order, acks, seqs across restarts, the bound, persistence, threads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.runtime.spool import Spool, SpoolError
from telemetry import Reading
from testkit import REPO

T0 = 1_764_489_600_000


def readings(start: int, count: int, sensor: str = "cnt1") -> list[Reading]:
    return [
        Reading(
            sensor=sensor,
            measurement="traffic",
            time=T0 + i,
            fields={"count": i, "speed_mean": 40.5},
            tags={"lane": "1"},
        )
        for i in range(start, start + count)
    ]


class FakeClock:
    def __init__(self, now: float = 1_764_489_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "spool.sqlite"


def test_append_batch_ack(path: Path) -> None:
    with Spool(path) as spool:
        assert spool.next_batch(10) is None
        spool.append(readings(0, 25))
        assert spool.depth() == 25
        seq, got, ids = spool.next_batch(10)
        assert seq == 0
        assert got == readings(0, 10)  # oldest first, the same readings back
        assert len(ids) == 10
        seq2, got2, ids2 = spool.next_batch(10)
        assert seq2 == 1 and got2 == readings(10, 10)
        spool.ack(ids)
        assert spool.depth() == 15
        seq3, got3, _ = spool.next_batch(10)  # a claimed, unacked batch is not handed out again
        assert seq3 == 2 and got3 == readings(20, 5)
        spool.ack(ids2)
        assert spool.depth() == 5
        assert spool.next_batch(10) is None


def test_max_delay_waits_for_a_full_batch_or_an_old_reading(path: Path) -> None:
    clock = FakeClock()
    with Spool(path, clock=clock) as spool:
        spool.append(readings(0, 3))
        assert spool.next_batch(5, max_delay=1.0) is None  # 3 < 5 and only 0 s old
        clock.now += 0.99
        assert spool.next_batch(5, max_delay=1.0) is None
        clock.now += 0.02
        seq, got, _ = spool.next_batch(5, max_delay=1.0)
        assert (seq, len(got)) == (0, 3)
        spool.append(readings(3, 5))
        seq, got, _ = spool.next_batch(5, max_delay=1.0)  # full: no waiting
        assert (seq, got) == (1, readings(3, 5))
        spool.append(readings(8, 1))
        clock.now -= 3600  # the clock was set back: a reading from "the future" is not held
        assert spool.next_batch(5, max_delay=1.0) is not None


def test_seq_strictly_increasing_across_reopen(path: Path) -> None:
    seqs = []
    for run in range(3):
        with Spool(path) as spool:
            for i in range(4):
                spool.append(readings(run * 100 + i, 1))
                seq, _, ids = spool.next_batch(10)
                spool.ack(ids)
                seqs.append(seq)
            assert spool.next_seq() == seqs[-1] + 1
    assert seqs == list(range(12))


def test_unacked_batch_is_resent_with_its_seq_after_reopen(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 6))
        first = spool.next_batch(4)
        second = spool.next_batch(4)
        assert (first[0], second[0]) == (0, 1)
        spool.ack(second[2])  # only the second batch got its PUBACK
    with Spool(path) as spool:
        assert spool.depth() == 4
        again = spool.next_batch(10)
        assert again == first  # same seq, same readings, same rows
        assert spool.next_batch(10) is None  # and no new seq for them
        spool.append(readings(6, 2))
        seq, got, _ = spool.next_batch(10)
        assert (seq, got) == (2, readings(6, 2))  # new batches continue after the old seqs


def test_release_hands_a_batch_out_again_with_the_same_seq(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 3))
        seq, got, ids = spool.next_batch(10)
        assert spool.next_batch(10) is None
        spool.release(seq)  # the broker refused it
        assert spool.next_batch(10) == (seq, got, ids)


def test_data_survives_reopen(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 50))
        spool.append(readings(50, 1, sensor="env1"))
    with Spool(path) as spool:
        assert spool.depth() == 51
        _, got, _ = spool.next_batch(100)
        assert got == readings(0, 50) + readings(50, 1, sensor="env1")


def test_bound_drops_the_oldest_and_counts_them(path: Path) -> None:
    with Spool(path, max_readings=10) as spool:
        spool.append(readings(0, 8))
        assert spool.dropped() == 0
        spool.append(readings(8, 5))
        assert spool.depth() == 10
        assert spool.dropped() == 3
        spool.append(readings(13, 25))  # more than the bound in one append
        assert spool.depth() == 10
        assert spool.dropped() == 28
        _, got, _ = spool.next_batch(100)
        assert got == readings(28, 10)  # the newest ten are kept
    with Spool(path, max_readings=10) as spool:
        assert spool.dropped() == 28  # persisted


def test_depth_and_oldest_age(path: Path) -> None:
    clock = FakeClock()
    with Spool(path, clock=clock) as spool:
        assert spool.oldest_age() is None
        spool.append(readings(0, 2))
        clock.now += 5
        spool.append(readings(2, 2))
        clock.now += 2.5
        assert spool.oldest_age() == pytest.approx(7.5)
        _, _, ids = spool.next_batch(2)
        spool.ack(ids)
        assert spool.oldest_age() == pytest.approx(2.5)
        assert spool.depth() == 2


def test_a_second_opener_is_refused(path: Path) -> None:
    with Spool(path), pytest.raises(SpoolError, match="in use by another process"):
        Spool(path)
    with Spool(path) as spool:  # free again once closed
        assert spool.depth() == 0


def test_a_corrupt_row_is_dropped_not_stuck(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 3))
    db = sqlite3.connect(path)
    db.execute("UPDATE readings SET data = '{\"sensor\": 5}' WHERE id = 2")
    db.commit()
    db.close()
    with Spool(path) as spool:
        _, got, _ = spool.next_batch(10)
        assert got == [readings(0, 1)[0], readings(2, 1)[0]]
        assert spool.dropped() == 1
        assert spool.depth() == 2


def test_threads_append_while_the_publisher_batches_and_acks(path: Path) -> None:
    producers, per_producer, chunk = 4, 300, 5
    delivered: list[Reading] = []
    seqs: list[int] = []
    done = threading.Event()
    with Spool(path) as spool:

        def produce(p: int) -> None:
            for start in range(0, per_producer, chunk):
                spool.append(readings(p * 10_000 + start, chunk, sensor=f"s{p}"))

        def consume() -> None:
            while True:
                batch = spool.next_batch(37)
                if batch is None:
                    if done.is_set() and spool.depth() == 0:
                        return
                    continue
                seq, got, ids = batch
                seqs.append(seq)
                delivered.extend(got)
                spool.ack(ids)

        threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
        consumer = threading.Thread(target=consume)
        consumer.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        consumer.join(30)
        assert not consumer.is_alive()
        assert spool.depth() == 0
    expected = {
        (r.sensor, r.time)
        for p in range(producers)
        for r in readings(p * 10_000, per_producer, sensor=f"s{p}")
    }
    assert len(delivered) == producers * per_producer  # nothing twice
    assert {(r.sensor, r.time) for r in delivered} == expected  # nothing lost
    assert seqs == list(range(len(seqs)))
    for p in range(producers):  # each producer's readings in the order appended
        times = [r.time for r in delivered if r.sensor == f"s{p}"]
        assert times == sorted(times)


def test_lanes_split_the_spool_by_row_id(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 6))
        boundary = spool.last_id()
        assert boundary is not None
        spool.append(readings(6, 3))
        # Fresh lane: only rows after the boundary, oldest first.
        seq, got, ids = spool.next_batch(10, after=boundary)
        assert (seq, got) == (0, readings(6, 3))
        assert spool.next_batch(10, after=boundary) is None
        # Backlog lane: only rows up to the boundary, oldest first, in batches of 4.
        seq, got, back_ids = spool.next_batch(4, up_to=boundary)
        assert (seq, got) == (1, readings(0, 4))
        spool.ack(ids)
        spool.release(1)  # the broker refused it: handed out again in its own lane only
        assert spool.next_batch(10, after=boundary) is None
        assert spool.next_batch(10, up_to=boundary) == (1, readings(0, 4), back_ids)
        seq, got, _ = spool.next_batch(10, up_to=boundary)
        assert (seq, got) == (2, readings(4, 2))


def test_unacknowledged_batches_are_listed_after_a_restart(path: Path) -> None:
    with Spool(path) as spool:
        spool.append(readings(0, 7))
        spool.next_batch(3)
        spool.next_batch(3)
        assert spool.unacknowledged() == [(0, 3), (1, 3)]
    with Spool(path) as spool:
        assert spool.unacknowledged() == [(0, 3), (1, 3)]
        assert spool.oldest_id() == 1 and spool.last_id() == 7


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _full_commits(statements: list[str]) -> int:
    """Commits made while synchronous=FULL (each of them fsyncs the WAL)."""
    full, count = False, 0
    for statement in statements:
        if statement == "PRAGMA synchronous=FULL":
            full = True
        elif statement == "PRAGMA synchronous=NORMAL":
            full = False
        elif statement == "COMMIT" and full:
            count += 1
    return count


def test_fsync_policy_syncs_new_readings_once_per_interval(path: Path) -> None:
    mono = Ticker()
    with Spool(path, fsync_interval=1.0, monotonic=mono) as spool:
        statements: list[str] = []
        spool._db.set_trace_callback(statements.append)  # observe SQLite's own statements
        spool.append(readings(0, 5))
        spool.append(readings(5, 5))
        assert _full_commits(statements) == 0  # appends commit without an fsync
        assert not spool.sync()  # the last fsync (at open) is not 1 s old yet
        mono.now += 1.0
        assert spool.sync()  # one fsync for both appends
        assert _full_commits(statements) == 1
        mono.now += 5.0
        assert not spool.sync()  # nothing new: no fsync
        spool.append(readings(10, 1))
        assert spool.sync()  # the interval has long passed: at once
        assert _full_commits(statements) == 2
        spool.next_batch(100)  # assigning a seq always fsyncs
        assert _full_commits(statements) == 3
        spool._db.set_trace_callback(None)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'syncs'").fetchone() == (2,)


def test_fsync_interval_zero_fsyncs_every_append(path: Path) -> None:
    with Spool(path, fsync_interval=0) as spool:
        statements: list[str] = []
        spool._db.set_trace_callback(statements.append)
        spool.append(readings(0, 1))
        spool.append(readings(1, 1))
        assert _full_commits(statements) == 2
        assert not spool.sync()  # nothing left to sync
        spool._db.set_trace_callback(None)


def test_the_bound_spares_batches_in_flight(path: Path) -> None:
    with Spool(path, max_readings=10) as spool:
        spool.append(readings(0, 10))
        _, in_flight, ids = spool.next_batch(4)  # published, PUBACK pending
        spool.append(readings(10, 3))
        assert spool.dropped() == 3  # the oldest rows that are not in flight
        assert spool.depth() == 10
        spool.ack(ids)  # the PUBACK arrives after all: nothing counted twice
        assert spool.depth() == 6
        _, rest, _ = spool.next_batch(100)
        assert in_flight == readings(0, 4)
        assert rest == readings(7, 6)  # 4..6 dropped, the newest kept


_DISK_FULL_SCRIPT = """
import resource, sys
from pathlib import Path
from gateway.runtime.spool import Spool, SpoolError
from tests.gateway.runtime.test_spool import readings

path = Path(sys.argv[1])
spool = Spool(path, fsync_interval=0)
spool.append(readings(0, 50))
size = max(p.stat().st_size for p in path.parent.iterdir())
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 65536, hard))  # the disk is nearly full
appended, error = 50, None
try:
    for start in range(50, 100_000, 50):
        spool.append(readings(start, 50))
        appended += 50
except SpoolError as exc:
    error = str(exc)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
depth = spool.depth()
spool.append(readings(900_000, 1))
_, got, _ = spool.next_batch(1_000_000)
print(error)
print(appended, depth, len(got), got[:appended] == readings(0, appended), got[-1].fields)
"""


def test_a_full_disk_is_a_spool_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    """The disk fills up for real: RLIMIT_FSIZE in a child process makes SQLite's writes fail
    with EFBIG exactly as on a full file system (a tmpfs cannot be mounted here)."""
    path = tmp_path / "spool" / "spool.sqlite"
    repo = REPO
    result = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_SCRIPT, str(path)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    error, summary = result.stdout.splitlines()
    assert error.startswith(f"cannot write to spool {path}: "), error
    appended, depth, got, intact, last = summary.split(" ", 4)
    assert int(appended) >= 50 and int(depth) == int(appended)  # the failed append left nothing
    assert int(got) == int(appended) + 1 and intact == "True"  # and writing works again
    assert last == "{'count': 900000, 'speed_mean': 40.5}"
