"""Traffic counter wire format: golden cases, round trips, framing, fuzzing
(gateway/devices/traffic_counter/protocol.py).

Golden cases live in gateway/devices/traffic_counter/cases/<case>/: ``input.txt`` (raw lines) or
``input.hex`` (hex of raw bytes), and one of:

- ``expected.json``: the events of the input's lines, in order;
- ``error.txt``: the whole input is one line; first line the reason, second a substring of the
  message;
- ``readings.json`` (``summary-*`` cases): the input is a stream fed line by line to the
  driver configured with ``config.toml`` (the keys of its ``[[devices]]`` table); the readings
  it publishes, in order, with times in ISO 8601 UTC; ``counters.json`` the driver's counters
  afterwards.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.devices.framing import LineFramer
from gateway.devices.traffic_counter.driver import TrafficCounterConfig, TrafficCounterDriver
from gateway.devices.traffic_counter.protocol import (
    DIRECTIONS,
    MAX_LINE,
    VEHICLE_CLASSES,
    Heartbeat,
    RecordError,
    VehicleRecord,
    checksum,
    format_heartbeat,
    format_record,
    parse_line,
)
from testkit import REPO

CASES = REPO / "gateway" / "devices" / "traffic_counter" / "cases"
REASONS = {"checksum", "format", "field", "type"}
T0 = 1_796_025_601_250  # 2026-11-30T08:00:01.250Z


def _input(case: Path) -> bytes:
    if (case / "input.hex").exists():
        return bytes.fromhex((case / "input.hex").read_text())
    return (case / "input.txt").read_bytes()


def _as_dict(event: VehicleRecord | Heartbeat) -> dict:
    return {"kind": "vehicle" if isinstance(event, VehicleRecord) else "heartbeat", **asdict(event)}


KINDS = ("expected.json", "error.txt", "readings.json")
PARSE_CASES = sorted(
    p for p in CASES.iterdir() if (p / "expected.json").exists() or (p / "error.txt").exists()
)
SUMMARY_CASES = sorted(p for p in CASES.iterdir() if (p / "readings.json").exists())


def test_every_case_folder_says_what_it_expects() -> None:
    for case in CASES.iterdir():
        assert sum((case / kind).exists() for kind in KINDS) == 1, case


@pytest.mark.parametrize("case", PARSE_CASES, ids=lambda p: p.name)
def test_golden_case(case: Path) -> None:
    data = _input(case)
    if (case / "error.txt").exists():
        reason, needle = (case / "error.txt").read_text().splitlines()[:2]
        with pytest.raises(RecordError) as info:
            parse_line(data)
        assert info.value.reason == reason, info.value
        assert needle in info.value.message
    else:
        expected = json.loads((case / "expected.json").read_text())
        lines = [line for line in data.split(b"\n") if line.strip()]
        assert [_as_dict(parse_line(line)) for line in lines] == expected
        # The framer cuts the same lines out of the stream, whatever the chunk size.
        framer = LineFramer(MAX_LINE)
        framer.feed(b"\n")  # in sync, as after a previous line
        cut = [line for i in range(0, len(data), 7) for line in framer.feed(data[i : i + 7])]
        assert [_as_dict(parse_line(line)) for line in cut] == expected


def _iso(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


@pytest.mark.parametrize("case", SUMMARY_CASES, ids=lambda p: p.name)
def test_summary_case(case: Path) -> None:
    """The driver's line path (parse, summarise, forward) without serial I/O or clock."""
    keys = tomllib.loads((case / "config.toml").read_text())
    config = TrafficCounterConfig.model_validate(
        {"id": "cnt1", "driver": "traffic_counter", "serial": {"port": "/dev/null"}, **keys}
    )
    published: list = []
    driver = TrafficCounterDriver(config, published.extend)
    framer = LineFramer(MAX_LINE)
    framer.feed(b"\n")
    for line in framer.feed(_input(case)):
        driver.handle_line(line)
    got = [
        {"measurement": r.measurement, "time": _iso(r.time), "tags": r.tags, "fields": r.fields}
        for r in published
    ]
    assert got == json.loads((case / "readings.json").read_text())
    for r in published:  # counts are integers, everything else a float
        assert all(isinstance(v, int if k == "count" else float) for k, v in r.fields.items()), r
    counters = {
        "decode_errors": driver.decode_errors,
        "shifted": driver.forwarder.shifted if driver.forwarder else 0,
        "contraflow": driver.aggregator.stats.contraflow,
        "records": driver.records,
        "heartbeats": driver.heartbeats,
    }
    assert counters == json.loads((case / "counters.json").read_text())


REQUIRED_CASES = (
    "good-record",
    "heartbeat",
    "bad-checksum",
    "missing-field",
    "non-numeric-speed",
    "unknown-class",
    "garbage-binary",
    "truncated-line",
    "summary-side-by-side",
    "summary-contraflow",
)


def test_cases_cover_the_required_situations() -> None:
    names = [p.name for p in CASES.iterdir()]
    for needed in REQUIRED_CASES:
        assert any(name.startswith(needed) for name in names), needed


def test_checksum_is_xor_in_uppercase_hex() -> None:
    assert checksum(b"") == "00"
    assert checksum(b"\x0f\xf0") == "FF"
    assert checksum(b"VEH,20261130T080001.250Z,1,N,45.2,1.8,SM") == "1B"


def test_format_record_is_the_exact_wire_line() -> None:
    line = format_record(T0, 1, "N", 45.24, 1.76, "SM")
    assert line == b"$VEH,20261130T080001.250Z,1,N,45.2,1.8,SM*1B\r\n"
    assert format_heartbeat(T0 - 1250) == b"$HBT,20261130T080000.000Z*6F\r\n"


records = st.builds(
    VehicleRecord,
    time_ms=st.integers(946_684_800_000, 4_102_444_799_999),
    lane=st.integers(1, 9),
    direction=st.sampled_from(DIRECTIONS),
    speed_kmh=st.integers(0, 3000).map(lambda tenths: tenths / 10),
    length_m=st.integers(0, 400).map(lambda tenths: tenths / 10),
    vehicle_class=st.sampled_from(VEHICLE_CLASSES),
)


@given(records)
def test_format_then_parse_round_trips(record: VehicleRecord) -> None:
    assert parse_line(format_record(**asdict(record))) == record


@given(st.integers(946_684_800_000, 4_102_444_799_999))
def test_heartbeat_round_trips(time_ms: int) -> None:
    assert parse_line(format_heartbeat(time_ms)) == Heartbeat(time_ms)


@given(st.binary(max_size=400))
def test_no_bytes_crash_the_parser(data: bytes) -> None:
    try:
        parse_line(data)
    except RecordError as exc:
        assert exc.reason in REASONS
        assert exc.message


@given(records, st.integers(0, 44), st.integers(1, 255))
def test_any_single_byte_corruption_is_refused(record: VehicleRecord, pos: int, flip: int) -> None:
    """Except the one change that is no corruption: the checksum's hex digits may be written in
    either case (docs/protocol.md 5.1; golden case stream-all-classes-lf-and-lowercase-hex),
    so flipping bit 0x20 of a letter A-F in them gives the same record."""
    original = format_record(**asdict(record))
    line = bytearray(original)
    at = pos % (len(line) - 2)  # not the \r\n
    line[at] ^= flip
    star = original.rindex(b"*")
    assume(not (star < at and bytes(line).upper() == original.upper()))
    with pytest.raises(RecordError):
        parse_line(bytes(line))


# -- framing ----------------------------------------------------------------------------------
def test_framer_joins_partial_reads_and_drops_the_first_partial_line() -> None:
    framer = LineFramer(MAX_LINE)
    good = format_record(T0, 1, "N", 45.2, 1.8, "SM")
    assert framer.feed(b",1.8,SM*1B\r\n" + good[:10]) == []  # opened in mid-line
    assert framer.feed(good[10:30]) == []
    assert framer.feed(good[30:]) == [good[:-1]]


def test_framer_resyncs_on_dollar_and_keeps_the_next_record() -> None:
    framer = LineFramer(MAX_LINE)
    framer.feed(b"\n")
    good = format_record(T0, 2, "S", 50.0, 4.4, "KR")
    lines = framer.feed(b"$VEH,2026113" + b"\x00\xff junk" + good)
    assert len(lines) == 2
    with pytest.raises(RecordError, match="truncated"):
        parse_line(lines[0])
    assert parse_line(lines[1]).lane == 2


def test_framer_caps_overlong_lines_and_skips_their_rest() -> None:
    framer = LineFramer(MAX_LINE)
    framer.feed(b"\n")
    good = format_record(T0, 1, "N", 45.2, 1.8, "SM")
    lines = framer.feed(b"A" * 1000 + b"\r\n" + b"B" * 600 + good)
    assert [len(line) for line in lines[:2]] == [MAX_LINE + 1, MAX_LINE + 1]
    assert lines[2:] == [good[:-1]]
    for line in lines[:2]:
        with pytest.raises(RecordError, match="longer than"):
            parse_line(line)


@given(
    st.lists(st.binary(max_size=60), max_size=5),
    records,
    st.integers(1, 64),
)
def test_framer_recovers_a_record_after_any_garbage(
    garbage: list[bytes], record: VehicleRecord, chunk: int
) -> None:
    stream = b"".join(garbage) + format_record(**asdict(record))
    framer = LineFramer(MAX_LINE)
    lines = [
        line for i in range(0, len(stream), chunk) for line in framer.feed(stream[i : i + chunk])
    ]
    assert lines, stream
    assert parse_line(lines[-1]) == record
