"""The pure parts of ingest: the fast decode paths (JSON and compact) agree with the codec,
on valid, corrupted and edge-of-contract payloads. No broker, no database. (Rejections,
dead letters, retention, the paho speed-ups: test_pipeline_parts.py.)"""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import pipeline
from ingest.compact_path import compact_lines
from telemetry import Batch, DecodeError, Reading, compact, decode_batch, encode_batch, topics
from telemetry.line_block import LineBlock
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import to_line
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS
from telemetry.units import field_kind
from testkit.ingest import T0, batch_bytes
from testkit.strategies import batches as _batches


def _outcome(decode, payload: bytes):
    try:
        return ("ok", decode(payload))
    except DecodeError as exc:
        return ("refused", exc.reason)


def _fast_outcome(payload: bytes) -> str:
    """Whether ingest's fast path (msgspec structs, names checked by the encoder) takes the
    payload: "ok", else "codec" (the codec decides)."""
    batch = pipeline.fast_batch(payload)
    if batch is None:
        return "codec"
    try:
        LineEncoder().reading_lines(batch.gateway, batch.readings)
    except InvalidName:
        return "codec"
    return "ok"


def _compact_outcome(payload: bytes, gateway: str = "gw-a") -> str:
    """Whether ingest's compact fast path (ingest/compact_path.py) takes the payload: "ok",
    else "codec"."""
    return "codec" if compact_lines(payload, gateway, LineEncoder()) is None else "ok"


def _agree(payload: bytes) -> None:
    """The fast path takes only what the codec accepts (then _lines_agree checks the data)."""
    if _fast_outcome(payload) == "ok" or _compact_outcome(payload) == "ok":
        assert _outcome(decode_batch, payload)[0] == "ok"


def _lines_agree(payload: bytes, topic: str = "jagajalan/v1/gw-a/readings") -> None:
    """The InfluxDB path (structs, LineEncoder) writes what the Point path writes, or refuses
    for the same reason; joined (the worker's: one block of lines), the same lines."""
    fast = pipeline.process(topic, payload, 0, LineEncoder(max_series=3))
    block = pipeline.process(topic, payload, 0, LineEncoder(max_series=3), joined=True)
    slow = pipeline.process(topic, payload, 0, None)
    assert type(fast) is type(slow) is type(block)
    if isinstance(slow, pipeline.Accepted):
        assert fast.points == [to_line(p) for p in slow.points]
        assert type(block.points) is LineBlock and list(block.points) == fast.points
        assert (fast.readings, fast.newest_ms) == (slow.readings, slow.newest_ms)
        assert (block.readings, block.newest_ms) == (slow.readings, slow.newest_ms)
    else:
        assert (fast.reason, fast.gateway) == (slow.reason, slow.gateway)
        assert (block.reason, block.gateway) == (slow.reason, slow.gateway)


@given(batch=_batches)
@settings(max_examples=200, deadline=None)
def test_fast_path_decodes_what_the_codec_decodes(batch) -> None:
    payload = encode_batch(batch)
    assert payload.startswith(b'{"v":1,')  # the fast path is taken for gateways' payloads
    assert pipeline.decode_readings(payload) == decode_batch(payload) == batch
    # Every valid payload takes the fast path, but for a count of 2**53 or more (the fast path
    # reads all numbers as floats, which are not all exact there): the codec decides.
    huge = any(
        abs(v) >= 2**53 and field_kind(k) == "int"
        for r in batch.readings
        for k, v in r.fields.items()
    )
    assert _fast_outcome(payload) == ("codec" if huge else "ok")
    _lines_agree(encode_batch(batch.model_copy(update={"gateway": "gw-a"})))


@given(batch=_batches, compress=st.sampled_from([None, False, True]))
@settings(max_examples=300, deadline=None)
def test_compact_fast_path_decodes_what_the_codec_decodes(batch, compress) -> None:
    """Compact payloads (several series of different widths, decimals and floats sent as
    themselves, compressed or not) take the compact fast path, and it writes the lines the
    codec's batch maps to; only values of 2**53 and more may be left to the codec (counts
    must be)."""
    mine = batch.model_copy(update={"gateway": "gw-a"})
    payload = compact.encode(mine, compress)
    assert decode_batch(payload) == mine
    huge = any(
        abs(v) >= 2**53 and field_kind(k) == "int"
        for r in batch.readings
        for k, v in r.fields.items()
    )
    big = any(abs(v) >= 2**53 for r in batch.readings for v in r.fields.values())
    outcome = _compact_outcome(payload)
    if huge:  # a count the fast path cannot print exactly
        assert outcome == "codec", repr(mine.readings)
    else:  # beyond 2**53 a float may be left to the codec too (the lines agree either way)
        assert outcome == "ok" or (big and outcome == "codec"), repr(mine.readings)
    assert _compact_outcome(payload, "gw-b") == "codec"  # another gateway's topic
    _lines_agree(payload)


def _time(ms: int, key: bytes = b"time", t: int = T0):
    return lambda p: p.replace(b'"%s":%d' % (key, t), b'"%s":%d' % (key, ms), 1)


#: Edits of a valid payload at the edges of the contract, and the reason both of ingest's
#: paths refuse the result with (None: accepted).
_CONTRACT_EDGES = [
    (lambda p: p.replace(b'"air_quality"', b'"gateway_batches"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"traffic"', b'"gateway_status"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"traffic"', b'"jagajalan_alerts"', 1), "reserved_measurement"),
    (lambda p: p.replace(b'"air_quality"', b'"gateway_health"', 1), None),  # a gateway's own
    (lambda p: p.replace(b'"gw-a"', b'"deadletter"', 1), "reserved_id"),
    (lambda p: p.replace(b'"gw-a"', b'"ingest-1"', 1), "reserved_id"),
    (_time(MIN_TIME_MS - 1), "invalid"),
    (_time(MIN_TIME_MS), None),
    (_time(MAX_TIME_MS - 1), None),
    (_time(MAX_TIME_MS), "invalid"),
    (_time(MAX_TIME_MS - 1, b"sent", T0 + 500), None),
    (_time(MAX_TIME_MS, b"sent", T0 + 500), "invalid"),
]


def _as_compact(payload: bytes) -> bytes:
    """A JSON batch as the compact encoding, without validating it (as another
    implementation of a gateway would send it)."""
    obj = json.loads(payload)
    readings = [Reading.model_construct(**{"tags": {}, **r}) for r in obj.pop("readings")]
    return compact.encode(Batch.model_construct(**obj, readings=readings))


@pytest.mark.parametrize(("mutate", "reason"), _CONTRACT_EDGES)
@pytest.mark.parametrize("encoding", ["json", "compact"])
def test_both_paths_refuse_reserved_names_and_times_out_of_range(
    mutate, reason: str | None, encoding: str
) -> None:
    payload = mutate(batch_bytes("gw-a", 1))
    assert payload != batch_bytes("gw-a", 1)
    if encoding == "compact":
        payload = _as_compact(payload)
    for encoder in (LineEncoder(), None):
        result = pipeline.process(topics.readings("gw-a"), payload, 0, encoder)
        if reason is None:
            assert isinstance(result, pipeline.Accepted), result
        else:
            assert isinstance(result, pipeline.Rejected), result
            assert (result.reason, result.gateway) == (reason, "gw-a")


_MUTATIONS = [
    lambda p: p.replace(b'{"v":1,', b'{"v":true,', 1),
    lambda p: p.replace(b'{"v":1,', b'{"v":1.0,', 1),
    lambda p: p.replace(b'{"v":1,', b'{"v":2,', 1),
    lambda p: p.replace(b'{"v":1,', b"{", 1),
    lambda p: p[:-1] + b',"v":true}',
    lambda p: p[:-1] + b',"seq":1.5}',
    lambda p: p[:-1] + b',"extra":1}',
    lambda p: b" " + p,
    lambda p: b"\xef\xbb\xbf" + p,
    lambda p: p + b" x",
    lambda p: p.replace(b"20.5", b"NaN"),
    lambda p: p.replace(b"20.5", b"Infinity"),
    lambda p: p.replace(b"20.5", b"1e400"),
    lambda p: p.replace(b"20.5", b"2" + b"0" * 40),
    lambda p: p.replace(b"20.5", b'"20.5"'),
    lambda p: p.replace(b"20.5", b"true"),
    lambda p: p.replace(b'"env1"', b'"env1\\u0000"'),
    lambda p: p.replace(b'"env1"', b'"\\ud800"'),
    lambda p: p.replace(b'"sensor"', b'"sensor","sensor":"x"'),
    lambda p: p.replace(b'"pm10"', b'"v"'),  # a field named v: not the version key
    lambda p: p.replace(b'"pm10"', b'"PM10"'),
    lambda p: p.replace(b'"env1"', b'"env1\\n"'),
    lambda p: p.replace(b'{"lane":"1"}', b"{}", 1),  # empty tags: same as none
    lambda p: p.replace(b'"lane":"1"', b'"lanes":"1"', 1),  # not a tag of the contract
    lambda p: p.replace(b'"lane":"1"', b'"lane":"1","lane":"x y"', 1),
    lambda p: p.replace(b'"lane":"1"', b'"lane":"1","direction":"in"', 1),
    lambda p: p.replace(b'"count":0', b'"count":' + b"9" * 30, 1),  # a huge count
    lambda p: p.replace(b'"count":0', b'"count":1.5', 1),
    lambda p: p.replace(b"20.5", b"-0.0"),
    lambda p: p.replace(b"20.5", b"1e-05"),
    lambda p: p.replace(b"20.5", b"0.00012"),
    lambda p: p.replace(b"20.5", b"12345678901234567890.5"),
    lambda p: p.replace(b"20.5", b"20"),  # an integer in a float field
    lambda p: p.replace(b'"pm10":20.5', b'"pm10":20.5,"pm1":1.0', 1),
    lambda p: p.replace(b'"time":', b'"time":1.0,"time":', 1),
    lambda p: p.replace(b'"seq":', b'"seq":-1,"seq":', 1),
    *(m for m, _ in _CONTRACT_EDGES),
]


@pytest.mark.parametrize("mutate", _MUTATIONS)
def test_fast_path_refuses_and_accepts_exactly_like_the_codec(mutate) -> None:
    payload = mutate(batch_bytes("gw-a", 1))
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)
    _agree(payload)
    _lines_agree(payload)


def _compact_edit(mutate) -> bytes | None:
    """The edited batch in the compact encoding; None when the edit leaves no batch that
    encoding can carry (not JSON, not an object, readings that are no list...)."""
    try:
        return _as_compact(mutate(batch_bytes("gw-a", 1)))
    except (ValueError, TypeError, AttributeError, OverflowError, KeyError):
        return None


_COMPACT_EDITS = [p for p in map(_compact_edit, _MUTATIONS) if p is not None]


def test_most_edits_reach_the_compact_path() -> None:
    assert len(_COMPACT_EDITS) >= len(_MUTATIONS) - 3, len(_COMPACT_EDITS)


@pytest.mark.parametrize("payload", _COMPACT_EDITS)
def test_compact_fast_path_refuses_and_accepts_exactly_like_the_codec(payload: bytes) -> None:
    """The same edits, sent in the compact encoding (those that are still JSON objects)."""
    _agree(payload)
    _lines_agree(payload)


@pytest.mark.parametrize("used", [0, 1])
def test_compact_fast_path_reads_one_series_of_several_widths(used: int) -> None:
    """A body whose readings all belong to one schema, beside a schema of another width that
    no reading uses (another gateway implementation may send one): the values are read at
    the used schema's width."""
    strings = ["env1", "air_quality", "pm25", "pm10", "humidity"]
    schemas = [[0, 1, [2, 3, 4], [None, None, None], []], [0, 1, [2], [1], []]]
    rows = [0, 0, 1.5, 2.5, 3.5, 0, 1, 4.5, 5.5, 6.5] if used == 0 else [1, 0, 415, 1, 1, 1]
    body = ["gw-a", 7, T0, strings, schemas, [T0, 1000], rows]
    payload = bytes((compact.MAGIC, 2, 0)) + msgpack.packb(body)
    assert _compact_outcome(payload) == "ok"
    _lines_agree(payload)


@given(
    data=st.data(),
    compress=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_compact_fast_path_agrees_with_the_codec_on_corrupted_payloads(
    data, compress, edits
) -> None:
    """Bytes of a compact payload changed anywhere (also in the zlib stream): the compact
    fast path accepts only what the codec accepts, with the same lines."""
    payload = bytearray(
        compact.encode(decode_batch(batch_bytes("gw-a", data.draw(st.integers(0, 100)))), compress)
    )
    for position, replacement in edits:
        i = position % (len(payload) + 1)
        payload[i : i + len(replacement)] = replacement
    payload = bytes(payload)
    _agree(payload)
    _lines_agree(payload)


@given(
    data=st.data(),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_fast_path_agrees_with_the_codec_on_corrupted_payloads(data, edits) -> None:
    payload = bytearray(batch_bytes("gw-a", data.draw(st.integers(0, 100))))
    for position, replacement in edits:
        i = position % (len(payload) + 1)
        payload[i : i + len(replacement)] = replacement
    payload = bytes(payload)
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)
    _agree(payload)
    _lines_agree(payload)


_EDGE_TIMES = [MIN_TIME_MS - 1, MIN_TIME_MS, T0, MAX_TIME_MS - 1, MAX_TIME_MS]


@given(
    gateway=st.sampled_from(["gw-a", "gw-b", "deadletter", "ingest", "api", "jagajalan-x"]),
    measurement=st.sampled_from(
        ["air_quality", "gateway_health", "gateway_batches", "gateway_status", "jagajalan_x"]
    ),
    times=st.lists(st.sampled_from(_EDGE_TIMES), min_size=2, max_size=2),
    on_own_topic=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_fast_path_agrees_with_the_codec_at_the_contract_edges(
    gateway: str, measurement: str, times: list[int], on_own_topic: bool
) -> None:
    """Reserved gateway ids (in the payload and in the topic), reserved measurements and the
    first and last milliseconds of the time range: the fast paths decide as the codec."""
    reading = {"sensor": "env1", "measurement": measurement, "time": times[0]}
    reading["fields"] = {"seq": 1.5, "pm25": 2.0}
    obj = {"v": 1, "gateway": gateway, "seq": 3, "sent": times[1], "readings": [reading]}
    payload = json.dumps(obj, separators=(",", ":")).encode()
    assert _outcome(pipeline.decode_readings, payload) == _outcome(decode_batch, payload)
    _agree(payload)
    topic = f"jagajalan/v1/{gateway if on_own_topic else 'gw-a'}/readings"
    _lines_agree(payload, topic)
    _lines_agree(_as_compact(payload), topic)


@pytest.mark.parametrize("encoding", ["json", "compact"])
def test_without_the_c_modules_the_worker_gets_the_same_block(monkeypatch, encoding) -> None:
    """Where the C fast paths are not built (a machine without a compiler, JAGAJALAN_PURE=1),
    the Python paths give the worker the same block of lines."""
    from ingest import compact_path

    batch = Batch(
        gateway="gw-a",
        seq=3,
        sent=1_764_489_600_500,
        readings=[
            Reading(
                sensor="env1",
                measurement="air_quality",
                time=1_764_489_600_000 + i,
                fields={"pm25": 41.3 + i / 10, "pm10": 63.0},
            )
            for i in range(5)
        ],
    )
    payload = encode_batch(batch) if encoding == "json" else compact.encode(batch)
    topic = topics.readings("gw-a")
    with_c = pipeline.process(topic, payload, 0, LineEncoder(), joined=True)
    monkeypatch.setattr(pipeline, "_json_lines", None)
    monkeypatch.setattr(compact_path, "_compact_lines", None)
    pure = pipeline.process(topic, payload, 0, LineEncoder(), joined=True)
    assert isinstance(pure, pipeline.Accepted) and isinstance(with_c, pipeline.Accepted)
    assert type(pure.points) is LineBlock and pure.points.text == with_c.points.text
    assert len(pure.points) == 6 and (pure.readings, pure.newest_ms) == (5, 1_764_489_600_004)
