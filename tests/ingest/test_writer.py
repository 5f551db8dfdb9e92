"""The writer's retry rules (ingest/retry.py, ingest/writer.py) with the store and the broker
replaced by plain functions: what is retried, how often, what is dead-lettered, what is
acknowledged. The same rules against real InfluxDB and Mosquitto: tests/ingest/test_failures.py
and test a of tests/ingest/test_acceptance.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from ingest.buffer import Buffer, Item
from ingest.deadletter import DeadLetter
from ingest.metrics import IngestMetrics
from ingest.retry import ALARM_EVERY, Retrier
from ingest.writer import Writer, WriterHooks
from store.base import StoreAuthFailed, StoreRejected, StoreRequestRefused, StoreUnavailable
from telemetry.line_block import LineBlock
from testkit.ingest import wait_for


class Harness:
    """A writer whose store runs *fail* before every write (raise to refuse)."""

    def __init__(self, fail, max_attempts: int = 3, parallel: int = 1, blocks=False) -> None:
        self.fail = fail
        self.blocks = blocks  # items hold their lines as one block (what the worker does)
        self.calls: list[Sequence[str]] = []
        self.written: list[str] = []
        self.acked: list[str] = []
        self.letters: list[DeadLetter] = []
        self.metrics = IngestMetrics()
        self.lock = threading.Lock()
        hooks = WriterHooks(
            write=self.write,
            ensure=lambda: None,
            render=str,
            acknowledge=lambda items: self.acked.extend(i.topic for i in items),
            publish=self.letters.extend,
        )
        self.buffer = Buffer()
        self.writer = Writer(
            hooks,
            self.buffer,
            self.metrics,
            batch_size=100,
            max_delay=0.01,
            retry_max_delay=0.02,
            parallel=parallel,
            max_attempts=max_attempts,
        )
        self.writer.start()

    def write(self, records: Sequence[str]) -> None:
        self.calls.append(records)
        self.fail(records)
        with self.lock:
            self.written.extend(records)

    def put(self, topic: str, *records: str) -> None:
        lines = LineBlock.of(list(records)) if self.blocks else list(records)
        self.buffer.put(Item(lines, topic))

    def stop(self) -> None:
        self.writer.stop(1)
        self.writer.join(10)
        assert not self.writer.is_alive()

    def value(self, name: str, *labels: str) -> float:
        metric = getattr(self.metrics, name)
        return (metric.labels(*labels) if labels else metric)._value.get()


def test_a_batch_reaches_the_store_as_one_block_of_its_lines_in_order() -> None:
    h = Harness(lambda records: None, blocks=True)
    try:
        h.put("m1", "a", "b")
        h.put("m2")  # a refused message holds no lines
        h.buffer.put(Item(["c", "d"], "m3"))  # a status: a list of lines
        h.put("m4", "e")
        wait_for(lambda: h.acked == ["m1", "m2", "m3", "m4"], 10, "every message acknowledged")
    finally:
        h.stop()
    assert all(type(c) is LineBlock for c in h.calls)
    assert "\n".join(c.text for c in h.calls) == "a\nb\nc\nd\ne"
    assert h.value("points_written") == 5


@pytest.mark.parametrize("blocks", [False, True])
def test_a_point_that_keeps_failing_oddly_is_dead_lettered_after_the_attempts(blocks) -> None:
    """An exception no one expected (here a bug's ValueError), only for one point. Before the
    bounded attempts, the writer retried the batch forever and acknowledged nothing again."""
    calls: list[int] = []

    def fail(records: Sequence[str]) -> None:
        if "poison" in records:
            calls.append(len(records))
            raise ValueError("cannot encode 'poison'")

    h = Harness(fail, max_attempts=3, blocks=blocks)
    try:
        h.put("m1", "a", "b")
        h.put("m2", "c", "poison", "d")
        h.put("m3", "e")
        wait_for(lambda: h.acked == ["m1", "m2", "m3"], 10, "every message acknowledged")
        for topic in ("m4", "m5"):  # the share goes on
            h.put(topic, topic + "-point")
        wait_for(lambda: h.acked[-2:] == ["m4", "m5"], 10, "the messages behind it")
    finally:
        h.stop()
    assert sorted(h.written) == ["a", "b", "c", "d", "e", "m4-point", "m5-point"]
    [letter] = h.letters
    assert (letter.reason, letter.topic, letter.points) == ("store_refused", "m2", ["poison"])
    assert letter.error == "ValueError: cannot encode 'poison'" and letter.attempts == 3
    assert calls.count(1) == 3  # the point alone, three times in all
    assert h.value("refused_attempts") == 3
    assert h.value("dead_lettered_after_retries") == 1
    assert h.value("points_written") == 7 and h.value("points_rejected") == 1
    assert h.value("dead_letters", "store_refused") == 1


@pytest.mark.parametrize("blocks", [False, True])
def test_points_refused_as_such_are_dead_lettered_at_once(blocks) -> None:
    tries: list[Sequence[str]] = []

    def fail(records: Sequence[str]) -> None:
        tries.append(records)
        if "int-humidity" in records:
            raise StoreRejected("partial write: field type conflict: humidity dropped=1")

    h = Harness(fail, max_attempts=5, blocks=blocks)
    try:
        h.put("m0", "x")
        h.put("m1", "a", "int-humidity", "b")
        wait_for(lambda: h.acked == ["m0", "m1"], 10, "the messages acknowledged")
    finally:
        h.stop()
    [letter] = h.letters
    assert letter.reason == "field_type_conflict" and letter.attempts == 0
    assert (letter.topic, letter.points) == ("m1", ["int-humidity"])
    assert sorted(h.written) == ["a", "b", "x"]
    assert [list(t) for t in tries].count(["int-humidity"]) == 1  # not tried again
    assert h.value("refused_attempts") == 0


def test_a_refusal_that_passes_within_the_attempts_loses_nothing() -> None:
    left = [3]  # the batch, then "big" alone twice

    def fail(records: Sequence[str]) -> None:
        if "big" in records and left[0]:
            left[0] -= 1
            raise StoreRequestRefused("InfluxDB refused (HTTP 413): Request Entity Too Large")

    h = Harness(fail, max_attempts=3)
    try:
        h.put("m1", "big", "small")
        wait_for(lambda: h.acked == ["m1"], 10, "the message acknowledged")
    finally:
        h.stop()
    assert sorted(h.written) == ["big", "small"] and h.letters == []
    assert h.value("refused_attempts") == 2 and h.value("dead_lettered_after_retries") == 0


@pytest.mark.parametrize(
    "error",
    [
        StoreUnavailable("InfluxDB at x is unreachable"),
        StoreAuthFailed("InfluxDB at x refused the credentials (HTTP 401)"),
    ],
)
def test_transient_and_configuration_failures_are_retried_without_limit(error) -> None:
    """Many more failures than --max-attempts: nothing dead-lettered, nothing acknowledged
    until the store takes the batch."""
    failing = threading.Event()
    failing.set()
    failures: list[int] = []

    def fail(records: Sequence[str]) -> None:
        if failing.is_set():
            failures.append(1)
            raise error

    h = Harness(fail, max_attempts=2, parallel=2)
    try:
        h.put("m1", "a")
        h.put("m2", "b")
        wait_for(lambda: len(failures) >= 20, 10, "twenty failed attempts")
        assert h.acked == [] and h.letters == [] and h.written == []
        failing.clear()
        wait_for(lambda: h.acked == ["m1", "m2"], 10, "both acknowledged in order")
    finally:
        h.stop()
    assert sorted(h.written) == ["a", "b"] and h.letters == []
    assert h.value("refused_attempts") == 0
    assert h.value("misconfigured") == 0


def test_a_configuration_problem_is_logged_once_a_minute_and_when_it_changes(caplog) -> None:
    now = [1000.0]
    metrics = IngestMetrics()
    retry = Retrier(
        metrics,
        max_delay=1,
        max_attempts=5,
        sleep=lambda s: None,
        giving_up=lambda: False,
        clock=lambda: now[0],
    )
    problems = iter(
        [StoreAuthFailed("no privilege")] * 30
        + [StoreAuthFailed("no database")] * 5
        + [StoreUnavailable("down")] * 3
    )

    def write(records: Sequence[str]) -> None:
        error = next(problems, None)
        if error is not None:
            now[0] += 3.0  # three seconds per attempt
            raise error

    with caplog.at_level(logging.INFO, logger="ingest.writer"):
        assert retry.write(write, ["a"]) == []
    lines = [r.getMessage() for r in caplog.records if "store_misconfigured" in r.getMessage()]
    # 30 attempts 3 s apart: at 0 s and again past ALARM_EVERY; then the new problem at once
    assert ALARM_EVERY == 60.0
    assert [("no privilege" in m, "no database" in m) for m in lines] == [
        (True, False),
        (True, False),
        (False, True),
    ]
    assert "event=store_configuration_fixed" in caplog.text
    assert metrics.misconfigured._value.get() == 0
    assert metrics.write_errors.labels("auth")._value.get() == 35
    assert metrics.write_errors.labels("unavailable")._value.get() == 3


def test_a_point_refused_in_an_item_of_several_messages_names_its_own_message() -> None:
    """The worker takes many messages as one item (ingest/_json_take.h); a point the store
    refuses is dead-lettered under the topic and gateway of the message it came from, and
    every message of the item is acknowledged and counted."""

    def fail(records: Sequence[str]) -> None:
        if "int-humidity" in records:
            raise StoreRejected("partial write: field type conflict: humidity dropped=1")

    h = Harness(fail)
    try:
        parts = [("ta", "gw-a", 2), ("tb", "gw-b", 3), ("tc", "gw-c", 1)]
        block = LineBlock.of(["a1", "a2", "b1", "int-humidity", "b3", "c1"])
        h.buffer.put(Item(block, "ta", token=([1, 2, 3], 0), parts=parts))
        h.put("m4", "d")
        wait_for(lambda: h.acked == ["ta", "m4"], 10, "both items acknowledged")
    finally:
        h.stop()
    [letter] = h.letters
    assert (letter.topic, letter.gateway, letter.points) == ("tb", "gw-b", ["int-humidity"])
    assert sorted(h.written) == ["a1", "a2", "b1", "b3", "c1", "d"]
    assert h.value("acked") == 4
    assert h.buffer.messages == 0 and h.buffer.points == 0
