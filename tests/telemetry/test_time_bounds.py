"""Times are 2000-01-01 <= time < 2100-01-01 (docs/protocol.md, section 2): the first and last
accepted and refused milliseconds of a reading's ``time`` and a batch's ``sent``, in JSON and
in the compact encoding (ingest's fast path: tests/ingest/test_pipeline.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from telemetry import Batch, DecodeError, Reading, compact
from telemetry.codec import decode_batch
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, valid_time

T0 = 1_764_489_600_000
LAST_MS = MAX_TIME_MS - 1  # 2099-12-31T23:59:59.999Z


def test_the_bounds_are_the_documented_instants() -> None:
    def ms(*date: int) -> int:
        return int(datetime(*date, tzinfo=UTC).timestamp() * 1000)

    assert (ms(2000, 1, 1), ms(2100, 1, 1)) == (MIN_TIME_MS, MAX_TIME_MS)
    assert [valid_time(t) for t in (MIN_TIME_MS - 1, MIN_TIME_MS, LAST_MS, MAX_TIME_MS)] == [
        False,
        True,
        True,
        False,
    ]


def _batch(time: int, sent: int = T0) -> Batch:
    reading = Reading.model_construct(
        sensor="env1", measurement="air_quality", time=time, fields={"pm25": 12.5}, tags={}
    )
    return Batch.model_construct(v=1, gateway="gw-a", seq=1, sent=sent, readings=[reading])


def _json(batch: Batch) -> bytes:
    r = batch.readings[0]
    reading = {"sensor": r.sensor, "measurement": r.measurement, "time": r.time, "fields": r.fields}
    obj = {"v": 1, "gateway": batch.gateway, "seq": 1, "sent": batch.sent, "readings": [reading]}
    return json.dumps(obj).encode()


ENCODERS = {"json": _json, "compact": compact.encode}
CASES = [
    (MIN_TIME_MS - 1, False),
    (MIN_TIME_MS, True),
    (LAST_MS, True),
    (MAX_TIME_MS, False),
]


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize(("ms", "accepted"), CASES)
@pytest.mark.parametrize("key", ["time", "sent"])
def test_time_bounds(key: str, ms: int, accepted: bool, encoding: str) -> None:
    batch = _batch(time=ms) if key == "time" else _batch(time=T0, sent=ms)
    payload = ENCODERS[encoding](batch)
    if accepted:
        decoded = decode_batch(payload)
        assert (decoded.readings[0].time, decoded.sent) == (batch.readings[0].time, batch.sent)
        return
    with pytest.raises(DecodeError) as info:
        decode_batch(payload)
    place = "readings.0.time" if key == "time" else "sent"
    assert info.value.reason == "invalid"
    assert info.value.message.startswith(f"{place}: Input should be")
    assert str(ms) in info.value.message


def test_compact_times_reach_the_bound_through_time_steps() -> None:
    """In compact rows a time is t0 plus steps: a step onto 2100-01-01 is refused like a
    JSON time, a step back from it is not."""
    first = Reading(sensor="env1", measurement="air_quality", time=LAST_MS, fields={"pm25": 1.0})
    second = Reading.model_construct(
        sensor="env1", measurement="air_quality", time=MAX_TIME_MS, fields={"pm25": 2.0}, tags={}
    )
    over = Batch.model_construct(v=1, gateway="gw-a", seq=1, sent=T0, readings=[first, second])
    with pytest.raises(DecodeError) as info:
        decode_batch(compact.encode(over))
    assert info.value.reason == "invalid" and "readings.1.time" in info.value.message
    back = Batch(
        gateway="gw-a",
        seq=1,
        sent=T0,
        readings=[first, first.model_copy(update={"time": LAST_MS - 5000})],
    )
    assert decode_batch(compact.encode(back)) == back
