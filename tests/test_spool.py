"""The durable spool: order, acks, seqs across restarts, the bound, persistence, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.spool import Spool, SpoolError
from telemetry import Reading

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
