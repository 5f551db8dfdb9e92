"""The outbox on SQLite and PostgreSQL: written before sending, claimed once, retried with
backoff, a dead sender's claim retried after its lease, every attempt recorded."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import Engine

from alerts.delivery import outbox
from alerts.delivery.outbox import Outgoing, Policy

T0 = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
POLICY = Policy(base_s=10, cap_s=60, max_attempts=6, lease_s=30)


def message(n: int, channel: str = "webhook") -> Outgoing:
    return Outgoing(
        key=f"banjir-pasar:{n}:{channel}",
        channel=channel,
        address="http://127.0.0.1:9/hook",
        subject="Banjir di Pasar Sarolangun",
        body="Genangan 24 cm",
        data={"rule": "banjir", "n": n},
    )


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_written_once_per_key_and_claimed_once(engine: Engine) -> None:
    assert outbox.enqueue(engine, [message(1), message(2)], T0) != []
    assert outbox.enqueue(engine, [message(1)], at(1)) == []  # same key: not written twice
    assert outbox.counts(engine) == {"pending": 2, "sent": 0, "failed": 0}
    first = outbox.claim(engine, "a", T0, POLICY)
    assert [c.key for c in first] == ["banjir-pasar:1:webhook", "banjir-pasar:2:webhook"]
    assert outbox.claim(engine, "b", at(5), POLICY) == []  # leased to a
    for item in first:
        assert outbox.begin(engine, item, "a", T0, POLICY)
        assert outbox.record(engine, item, "a", at(1), POLICY) == "sent"
    assert outbox.counts(engine) == {"pending": 0, "sent": 2, "failed": 0}
    assert outbox.claim(engine, "b", at(1000), POLICY) == []


def test_failures_back_off_exponentially_up_to_the_cap_then_give_up(engine: Engine) -> None:
    outbox.enqueue(engine, [message(1)], T0)
    now, waits = T0, []
    for _ in range(POLICY.max_attempts):
        (item,) = outbox.claim(engine, "a", now, POLICY)
        assert outbox.begin(engine, item, "a", now, POLICY)
        state = outbox.record(engine, item, "a", now, POLICY, error="connection refused")
        due = outbox.next_due(engine)
        if state == "failed":
            assert due is None
            break
        assert outbox.claim(engine, "a", due - dt.timedelta(seconds=1), POLICY) == []
        waits.append((due - now).total_seconds())
        now = due
    assert waits == [10, 20, 40, 60, 60]
    assert outbox.counts(engine)["failed"] == 1
    rows = outbox.attempts(engine, "banjir-pasar:1:webhook")
    assert [r.number for r in rows] == [6, 5, 4, 3, 2, 1]
    assert {(r.outcome, r.error) for r in rows} == {("failed", "connection refused")}


def test_a_dead_senders_claim_is_retried_after_its_lease(engine: Engine) -> None:
    outbox.enqueue(engine, [message(1)], T0)
    (dead,) = outbox.claim(engine, "dies", T0, POLICY)
    assert outbox.begin(engine, dead, "dies", T0, POLICY)  # sends ... and never records
    assert outbox.claim(engine, "b", at(POLICY.lease_s - 1), POLICY) == []
    (again,) = outbox.claim(engine, "b", at(POLICY.lease_s + 1), POLICY)
    assert (again.key, again.attempt) == (dead.key, 2)
    assert outbox.begin(engine, again, "b", at(31), POLICY)
    assert outbox.record(engine, again, "b", at(32), POLICY) == "sent"
    # the dead sender's late record (it was only slow) does not undo the state
    assert outbox.record(engine, dead, "dies", at(33), POLICY, error="timeout") == "sent"
    rows = outbox.attempts(engine)
    assert [(r.worker, r.outcome) for r in rows] == [("b", "sent"), ("dies", "failed")]


def test_a_claim_taken_over_is_not_sent_by_its_first_holder(engine: Engine) -> None:
    """A sender slow to reach an item of its batch (its lease expired, another instance took
    the item) does not send it."""
    outbox.enqueue(engine, [message(1)], T0)
    (slow,) = outbox.claim(engine, "slow", T0, POLICY)
    (fast,) = outbox.claim(engine, "fast", at(POLICY.lease_s + 1), POLICY)
    assert not outbox.begin(engine, slow, "slow", at(POLICY.lease_s + 2), POLICY)
    assert outbox.begin(engine, fast, "fast", at(POLICY.lease_s + 2), POLICY)
    assert [r.worker for r in outbox.attempts(engine)] == ["fast"]


def test_concurrent_claims_never_take_a_row_twice(engine: Engine) -> None:
    outbox.enqueue(engine, [message(n) for n in range(60)], T0)
    got: dict[str, list[str]] = {}
    go = threading.Barrier(3)

    def take(worker: str) -> None:
        go.wait()
        keys: list[str] = []
        while batch := outbox.claim(engine, worker, T0, POLICY, limit=7):
            keys += [c.key for c in batch]
        got[worker] = keys

    threads = [threading.Thread(target=take, args=(w,)) for w in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [k for keys in got.values() for k in keys]
    assert len(every) == 60 and len(set(every)) == 60
