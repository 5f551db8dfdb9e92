"""Payload version 2, the compact encoding: golden bytes, exact round trips, named errors for
malformed bytes (property tests over random and mutated payloads), the size on the wire, and
one batch through a real Mosquitto and a real ingest process into a real InfluxDB."""

from __future__ import annotations

import struct
import time
import uuid
import zlib
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.influx import InfluxStore
from telemetry import Batch, DecodeError, Reading, compact, topics
from telemetry.codec import decode_batch, encode_batch, payload_version
from telemetry.mapping import Point, batch_to_points
from telemetry.models import MAX_TIME_MS, MIN_TIME_MS, READING_TAGS
from testkit.influx_setup import setup_database
from testkit.ingest import Publisher, start_ingest, stop_process, wait_for
from testkit.services import Influx, Mosquitto
from testkit.wire import standard_batch, wire_bytes_per_reading

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z
F32_THIRD = struct.unpack(">f", struct.pack(">f", 1 / 3))[0]  # exact in float32, not decimal
REASONS = {
    "empty",
    "not_utf8",
    "not_json",
    "not_object",
    "no_version",
    "unsupported_version",
    "invalid",
    "reserved_id",
    "reserved_measurement",
    "truncated",
    "corrupt",
}


def golden_batch() -> Batch:
    aq = "air_quality"
    return Batch(
        gateway="srl-pasar-01",
        seq=7,
        sent=T0 + 5500,
        readings=[
            Reading(
                sensor="env1",
                measurement=aq,
                time=T0,
                fields={"pm25": 12.5, "pm10": 20.0, "temperature": 29.1, "humidity": 81.0},
            ),
            Reading(
                sensor="cnt1",
                measurement="traffic",
                time=T0,
                fields={"count": 17, "speed_mean": 42.25},
                tags={"lane": "1"},
            ),
            Reading(
                sensor="env1",
                measurement=aq,
                time=T0 + 5000,
                fields={"pm25": 13.1, "pm10": 19.0, "temperature": 29.2, "humidity": 80.5},
            ),
            Reading(
                sensor="wl1",
                measurement="water_level",
                time=T0 + 5000,
                fields={"level": 0.1 + 0.2, "distance": F32_THIRD},
            ),
        ],
    )


# The golden batch, uncompressed. A change here is a change of the wire format: it needs a new
# payload version (docs/protocol.md), not a new golden.
GOLDEN = bytes.fromhex(
    "c1 02 00"  # header: marker 0xc1, payload version 2, flags 0 (not compressed)
    "97"  # body: an array of 7
    "ac 73726c2d70617361722d3031"  # gateway "srl-pasar-01"
    "07"  # seq 7
    "cf 0000019ad3c6b17c"  # sent 1764489605500
    "dc 0010"  # strings: 16
    "a4 656e7631 ab 6169725f7175616c697479"  # 0 env1, 1 air_quality
    "a4 706d3235 a4 706d3130 ab 74656d7065726174757265 a8 68756d6964697479"  # 2-5 fields
    "a4 636e7431 a7 74726166666963"  # 6 cnt1, 7 traffic
    "a5 636f756e74 aa 73706565645f6d65616e"  # 8 count, 9 speed_mean
    "a4 6c616e65 a1 31"  # 10 lane, 11 "1"
    "a3 776c31 ab 77617465725f6c6576656c"  # 12 wl1, 13 water_level
    "a5 6c6576656c a8 64697374616e6365"  # 14 level, 15 distance
    "93"  # schemas: 3 of [sensor, measurement, [fields], [decimals], [tag key, value...]]
    "95 00 01 94 02030405 94 01000101 90"  # env1 air_quality; decimals 1, 0, 1, 1
    "95 06 07 92 0809 92 c0 02 92 0a0b"  # cnt1 traffic; count as is, speed_mean 2; lane=1
    "95 0c 0d 92 0e0f 92 c0 c0 90"  # wl1 water_level; both as is
    "92 cf 0000019ad3c69c00 cd 1388"  # time: t0 1764489600000, unit 5000 ms
    "dc 0014"  # rows: 20 items
    "00 00 7d 14 cd0123 cd032a"  # env1 +0: 12.5 20. 29.1 81.0 as 125 20 291 810
    "01 00 11 cd1081"  # cnt1 +0: count 17, speed_mean 4225 (42.25)
    "00 01 06 ff 01 fb"  # env1 +5 s: changes +6 -1 +1 -5 = 13.1 19. 29.2 80.5
    "02 00 cb 3fd3333333333334 ca 3eaaaaab"  # wl1 +0: 0.1 + 0.2 as float64, 1/3 as float32
)


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


# -- malformed payloads ---------------------------------------------------------------------


def _header(flags: int = 0) -> bytes:
    return bytes((0xC1, 2, flags))


def _body(**over: object) -> bytes:
    """The golden body with items replaced, packed again."""
    items = dict(zip(compact._BODY_ITEMS, msgpack.unpackb(GOLDEN[3:]), strict=True))
    items.update(over)
    return _header() + msgpack.packb(list(items.values()))


STRINGS = msgpack.unpackb(GOLDEN[3:])[3]
ROWS = msgpack.unpackb(GOLDEN[3:])[6]
BIG = msgpack.ExtType(1, b"\x7f" * 200)  # an integer of 200 bytes


@pytest.mark.parametrize(
    ("payload", "reason", "needle"),
    [
        (b"\xc1", "truncated", "header"),
        (b"\xc1\x07", "unsupported_version", "version 7"),
        (b"\xc1\x01\x00\x90", "unsupported_version", "version 1"),
        (b"\xc1\x02", "truncated", "got 2"),
        (_header(), "truncated", "no body"),
        (_header(0x02) + GOLDEN[3:], "corrupt", "flags 0x02"),
        (GOLDEN + b"\x00", "corrupt", "extra bytes"),
        (GOLDEN[:-3], "truncated", "ends early"),
        (_header() + b"\xc1\xc1", "corrupt", "not valid MessagePack"),
        (_header(1) + b"garbage", "corrupt", "zlib"),
        (_header(1) + zlib.compress(GOLDEN[3:])[:-4], "truncated", "compressed body ends"),
        (_header(1) + zlib.compress(GOLDEN[3:]) + b"x", "corrupt", "after the compressed"),
        (_header(1) + zlib.compress(b"\x00" * (17 << 20)), "corrupt", "inflates beyond"),
        (_header() + msgpack.packb({"v": 2}), "corrupt", "body: expected an array, got dict"),
        (_header() + msgpack.packb([1, 2, 3]), "corrupt", "expected 7 items, got 3"),
        (_body(strings=["env1", 5]), "corrupt", "strings.1: expected a string, got int"),
        (_body(rows=[3, *ROWS[1:]]), "corrupt", "rows: reading 0: schema 3 is not one of"),
        (_body(rows=ROWS[:-1]), "corrupt", "reading 3: rows end before the value of 'distance'"),
        (_body(rows=["x", *ROWS[1:]]), "corrupt", "reading 0: schema 'x'"),
        (_body(time=[T0]), "corrupt", "time: expected 2 items"),
        (_body(schemas=[[0, 1, [99], [None], []]]), "corrupt", "schemas.0.fields.0: string 99"),
        (_body(schemas=[[0, 1, [2], [None, 1], []]]), "corrupt", "decimals: expected 1 items"),
        (_body(schemas=[[0, 1, [2], [12], []]]), "corrupt", "decimals.0: expected nil or 0..9"),
        (_body(schemas=[[0, 1, [2, 2], [None, None], []]]), "corrupt", "field name appears twice"),
        (_body(schemas=[[0, 1, [2], [None], [10]]]), "corrupt", "odd count"),
        (_header() + msgpack.packb(msgpack.ExtType(9, b"x")), "corrupt", "extension type 9"),
        (_body(rows=[0, 0, msgpack.ExtType(1, b"\x7f" * 2000), *ROWS[3:]]), "corrupt", "digits"),
        (_header() + b"\x91" * 100_000 + b"\x00", "corrupt", "not valid MessagePack"),
        (_body(rows=[0, 0, BIG, *ROWS[3:]]), "corrupt", "'pm25' is beyond a float"),
        (_body(rows=[0, BIG, *ROWS[2:]]), "corrupt", "reading 0: its time is beyond 64 bits"),
        # Well-formed compact payloads whose batch the model refuses, exactly as JSON's would be:
        (
            _body(rows=[0, 0, float("nan"), *ROWS[3:]]),
            "invalid",
            "fields: Value error, field 'pm25' is nan",
        ),
        (_body(rows=[0, 0, "12.5", *ROWS[3:]]), "invalid", "readings.0.fields.pm25"),
        (_body(rows=[0, 0, True, *ROWS[3:]]), "invalid", "readings.0.fields.pm25"),
        (_body(time=[0, 5000]), "invalid", "readings.0.time"),
        (_body(gateway="Bad Id"), "invalid", "gateway"),
        (_body(seq=-1), "invalid", "seq"),
        (_body(strings=[*STRINGS[:2], "PM25", *STRINGS[3:]]), "invalid", "fields.PM25"),
        (_body(schemas=[[0, 1, [2], [1], [11, 10]]], rows=[0, 0, 5]), "invalid", "unknown tag"),
        (_body(rows=[]), "invalid", "readings"),
    ],
)
def test_malformed_compact_payloads_are_named(payload: bytes, reason: str, needle: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_batch(payload)
    assert info.value.reason == reason, info.value
    assert needle in str(info.value)


def test_json_version_2_points_to_the_compact_encoding() -> None:
    with pytest.raises(DecodeError) as info:
        decode_batch(encode_batch(golden_batch()).replace(b'"v":1', b'"v":2'))
    assert info.value.reason == "unsupported_version"
    assert "binary compact encoding" in info.value.message


def test_every_cut_of_a_compact_payload_is_truncated() -> None:
    for payload in (GOLDEN, compact.encode(standard_batch(), compress=True)):
        for end in range(1, len(payload)):
            with pytest.raises(DecodeError) as info:
                decode_batch(payload[:end])
            assert info.value.reason == "truncated", (end, info.value)


def _decodes_or_names(payload: bytes) -> None:
    try:
        assert isinstance(decode_batch(payload), Batch)
    except DecodeError as exc:
        assert exc.reason in REASONS
        assert exc.message


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([b"", b"\xc1", b"\xc1\x02\x00", b"\xc1\x02\x01"]))
def test_random_bytes_never_crash_the_decoder(data: bytes, prefix: bytes) -> None:
    _decodes_or_names(prefix + data)
    _decodes_or_names(_header(1) + zlib.compress(data))


EXT = st.builds(msgpack.ExtType, st.sampled_from([1, 1, 5]), st.binary(max_size=40)) | st.builds(
    msgpack.Timestamp, st.integers(0, 2**32)
)
MSGPACK_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.binary()
    | EXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(MSGPACK_ANY, st.sampled_from(["srl-pasar-01", 7, T0, ["env1"], [T0, 1]])),
        min_size=7,
        max_size=7,
    )
)
def test_random_structures_never_crash_the_decoder(items: list) -> None:
    try:
        body = msgpack.packb(items)
    except (OverflowError, ValueError):  # an int msgpack cannot hold: not a payload
        return
    _decodes_or_names(_header() + body)


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    """Every position in a nested list: where a structural mutation can go."""
    out = [path]
    if isinstance(node, list):
        for i, item in enumerate(node):
            out += _paths(item, (*path, i))
    return out


GOLDEN_PATHS = _paths(msgpack.unpackb(GOLDEN[3:]))[1:]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(GOLDEN_PATHS), MSGPACK_ANY)
def test_structurally_mutated_payloads_never_crash_the_decoder(path: tuple, value: object) -> None:
    """One node of the golden body (a table entry, an index, a value, ...) replaced."""
    body = msgpack.unpackb(GOLDEN[3:])
    node = body
    for i in path[:-1]:
        node = node[i]
    node[path[-1]] = value
    try:
        payload = _header() + msgpack.packb(body)
    except (OverflowError, ValueError):
        return
    _decodes_or_names(payload)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["flip", "delete", "insert", "replace"]),
    st.integers(min_value=0),
    st.integers(0, 255),
    st.booleans(),
)
def test_mutated_payloads_never_crash_the_decoder(
    how: str, where: int, byte: int, compressed: bool
) -> None:
    """One byte changed in a valid payload's body (before compression, so that the mutation
    reaches the MessagePack reader and not just zlib's checksum)."""
    body = bytearray(compact.encode(standard_batch(8), compress=False)[3:])
    i = where % len(body)
    if how == "flip":
        body[i] ^= 1 << (byte % 8)
    elif how == "delete":
        del body[i]
    elif how == "insert":
        body.insert(i, byte)
    else:
        body[i] = byte
    payload = _header(1) + zlib.compress(bytes(body)) if compressed else _header() + body
    _decodes_or_names(bytes(payload))


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
