"""Payload version 2, the compact encoding: golden bytes, exact round trips, the size on the
wire, and one batch through a real Mosquitto and a real ingest process into a real InfluxDB.
Malformed payloads: test_compact_malformed.py."""

from __future__ import annotations

import struct
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.influx import InfluxStore
from telemetry import Batch, Reading, compact, topics
from telemetry.codec import decode_batch, encode_batch, payload_version
from telemetry.mapping import Point, batch_to_points
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, READING_TAGS
from testkit.influx_setup import setup_database
from testkit.ingest import Publisher, start_ingest, stop_process, wait_for
from testkit.services import Influx, Mosquitto
from testkit.wire import standard_batch, wire_bytes_per_reading
from tests.telemetry.compact_cases import GOLDEN, T0, golden_batch


def test_golden_bytes() -> None:
    batch = golden_batch()
    assert compact.encode(batch, compress=False).hex(" ") == GOLDEN.hex(" ")
    decoded = decode_batch(GOLDEN)
    assert decoded == batch
    assert decoded.model_dump_json() == batch.model_dump_json()  # bit-identical floats, ints
    assert payload_version(GOLDEN) == 2 and payload_version(encode_batch(batch)) == 1
    for junk in (b"", b"\xc1", b"{nope", b"[1]", b"[" * 100_000, b'{"v": "1"}'):
        assert payload_version(junk) is None


def test_compression_only_when_it_pays() -> None:
    big = standard_batch()
    auto = encode_batch(big, "compact")
    assert auto[:3] == b"\xc1\x02\x01"  # zlib
    assert len(auto) < len(compact.encode(big, compress=False))
    assert decode_batch(auto) == big
    small = Batch(gateway="gw", seq=0, sent=T0, readings=golden_batch().readings[:1])
    assert encode_batch(small, "compact")[:3] == b"\xc1\x02\x00"
    forced = compact.encode(small, compress=True)
    assert forced[:3] == b"\xc1\x02\x01" and decode_batch(forced) == small


def test_standard_batch_is_small_on_the_wire() -> None:
    """Functional bounds only (bytes, not time): the figures themselves are `make bench`."""
    batch = standard_batch()
    as_json = wire_bytes_per_reading(batch, encode_batch(batch, "json"))
    as_compact = wire_bytes_per_reading(batch, encode_batch(batch, "compact"))
    assert as_compact < as_json / 3
    assert as_compact <= 25


def test_unknown_encoding_is_named() -> None:
    with pytest.raises(ValueError, match="'cbor'"):
        encode_batch(golden_batch(), "cbor")  # type: ignore[arg-type]


# -- round trips ----------------------------------------------------------------------------

DECIMALS = st.builds(lambda n, k: n / 10**k, st.integers(-(10**9), 10**9), st.integers(0, 9))
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
VALUES = st.one_of(
    DECIMALS,
    FLOAT32,
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**31), 2**31),
    st.integers(),  # also beyond 64 bits: the model allows them
    st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 2.0**62, 1e22]),
)
FIELDS = st.dictionaries(
    st.sampled_from(["pm25", "pm10", "temperature", "humidity", "count", "level", "x_9"]),
    VALUES,
    min_size=1,
    max_size=5,
)
TIMES = st.one_of(
    st.integers(MIN_TIME_MS, MAX_TIME_MS - 1),
    st.integers(0, 500).map(lambda i: T0 + i * 5000),
    st.integers(0, 5).map(lambda i: T0 + i * 60_000),
)
READINGS = st.builds(
    Reading,
    sensor=st.sampled_from(["env1", "env2", "cnt1", "a"]),
    measurement=st.sampled_from(["air_quality", "traffic", "m_2"]),
    time=TIMES,
    fields=FIELDS,
    tags=st.dictionaries(
        st.sampled_from(READING_TAGS), st.sampled_from(["1", "2", "N", "SM", "x.y-z"]), max_size=3
    ),
)
BATCHES = st.builds(
    Batch,
    gateway=st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,62}\Z").filter(topics.valid_gateway_id),
    seq=st.integers(min_value=0),
    sent=st.integers(MIN_TIME_MS, MAX_TIME_MS - 1),
    readings=st.lists(READINGS, min_size=1, max_size=25),
)


@settings(max_examples=300, deadline=None)
@given(BATCHES, st.sampled_from([None, True, False]))
def test_compact_round_trip_equals_json(batch: Batch, compress: bool | None) -> None:
    via_compact = decode_batch(compact.encode(batch, compress=compress))
    via_json = decode_batch(encode_batch(batch, "json"))
    assert via_compact == batch == via_json
    # The JSON text shows every float's bits and every int-versus-float difference.
    assert via_compact.model_dump_json() == batch.model_dump_json() == via_json.model_dump_json()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(DECIMALS, FLOAT32), min_size=2, max_size=60))
def test_a_column_of_mixed_floats_round_trips(values: list[float]) -> None:
    """One schema, one field: the decimals choice and the per-value float fallback."""
    readings = [
        Reading(sensor="s", measurement="m", time=T0 + i, fields={"v": v})
        for i, v in enumerate(values)
    ]
    batch = Batch(gateway="g", seq=1, sent=T0, readings=readings)
    decoded = decode_batch(compact.encode(batch, compress=False))
    assert [struct.pack(">d", r.fields["v"]) for r in decoded.readings] == [
        struct.pack(">d", v) for v in values
    ]


# -- a real broker, a real ingest process, a real InfluxDB ------------------------------------


def _identity(point: Point) -> tuple:
    return point.measurement, point.time_ms, sorted(point.tags.items())


@pytest.mark.services
def test_compact_batch_lands_in_influxdb_through_real_ingest(
    tmp_path: Path, broker: Mosquitto, influx: Influx, influx_db: str
) -> None:
    gateway = f"gw-compact-{uuid.uuid4().hex[:6]}"
    # Two whole hours ago: ingest keeps raw points for 90 days and refuses older ones.
    recent = (int(time.time() * 1000) // 3_600_000 - 2) * 3_600_000
    readings = list(standard_batch(40, t0=recent).readings)
    traffic = golden_batch().readings[1]  # an int field and a tag
    readings.append(traffic.model_copy(update={"time": recent}))
    batch = Batch(gateway=gateway, seq=3, sent=recent + 300_000, readings=readings)
    payload = encode_batch(batch, "compact")
    assert payload[:2] == b"\xc1\x02"
    log = tmp_path / "ingest.log"
    setup_database(influx.url, influx_db)
    proc = start_ingest(
        *("--broker-url", broker.url, "--influx-url", influx.url, "--influx-db", influx_db),
        *("--client-id", f"test-compact-{uuid.uuid4().hex[:8]}"),
        log=log,
    )
    pub = Publisher(broker.port)
    store = InfluxStore(influx.url, influx_db)
    try:

        def subscribed() -> bool:
            assert proc.poll() is None, log.read_text()
            return "subscribed to" in log.read_text()

        wait_for(subscribed, 30, "ingest to subscribe")
        pub.send(topics.readings(gateway), payload)
        wait_for(lambda: store.count("gateway_batches", gateway) == 1, 30, "the batch in InfluxDB")
        stored = store.points("air_quality", gateway) + store.points("traffic", gateway)
        assert sorted(stored, key=_identity) == sorted(batch_to_points(batch), key=_identity)
        assert len(stored) == 41
        assert "event=refused" not in log.read_text() and "dead_letter" not in log.read_text()
    finally:
        pub.close()
        store.close()
        assert stop_process(proc) == 0, log.read_text()
