"""Golden Modbus RTU cases and a fuzzer for the pure frame core and decoders.

Each folder in gateway/devices/modbus/cases/<case>/ holds ``case.toml`` and the raw bytes received
as hex files (``#`` starts a comment). case.toml names the profile (a shipped one, or a
case-local ``profile.toml``), ``unit``, ``function``, ``address``, ``count`` and optional
``params`` (the device params of the gateway config), then either one poll:

- ``response.hex`` with ``[expected]`` published fields (and optional ``[problems]``: field ->
  message substring for fields refused, e.g. out of range), or ``[error]`` reason and message
  substring for a frame the core refuses;

or several polls of one device, in order, as ``[[polls]]`` with ``response`` (file name),
``expected``, and optional ``problems``, ``events`` (substrings of counter events),
``reconnect = true`` (the port was reopened before this poll) or ``error``.

Adding a sensor model or a bug case is one folder, no Python; every shipped profile must have
at least one case (test_every_shipped_profile_has_a_golden_case).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.devices.modbus.decoder import DeviceDecoder
from gateway.devices.modbus.frames import (
    ModbusFrameError,
    answer_needs,
    build_read_request,
    crc16,
    echo_pending,
    parse_read_response,
    response_length,
    strip_echo,
)
from gateway.devices.modbus.profile import PROFILE_DIR, compile_profile, load_profile
from testkit import REPO

CASES = REPO / "gateway" / "devices" / "modbus" / "cases"
REASONS = {"crc_error", "truncated", "garbage", "exception", "wrong_unit", "wrong_length"}
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.toml").is_file())


def read_hex(path: Path) -> bytes:
    lines = (line.split("#", 1)[0] for line in path.read_text().splitlines())
    return bytes.fromhex(" ".join(lines))


def load_case(case_dir: Path) -> dict[str, Any]:
    return tomllib.loads((case_dir / "case.toml").read_text())


def polls_of(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The polls of a case: ``[[polls]]``, or the single poll of the top-level keys."""
    if "polls" in case:
        assert not {"expected", "error", "problems"} & case.keys(), "polls or one poll, not both"
        return case["polls"]
    poll = {k: case[k] for k in ("expected", "error", "problems") if k in case}
    return [{"response": "response.hex", **poll}]


def test_the_required_cases_exist() -> None:
    names = {p.name for p in CASE_DIRS}
    required = {
        "good-frame",
        "bad-crc",
        "truncated",
        "garbage",
        "exception-response",
        "wrong-unit",
        "negative-temperature",
        "rain-rollover-16bit",
        "rain-rollover-32bit",
        "rain-power-loss-reset",
        "rain-reconnect-baseline",
        "level-from-reference",
        "th-humidity-out-of-range",
    }
    assert required <= names


def test_every_shipped_profile_has_a_golden_case() -> None:
    """A new sensor model is a profile file plus a golden case that decodes real fields."""
    decoded_by: dict[str, list[str]] = {}
    for case_dir in CASE_DIRS:
        case = load_case(case_dir)
        if any(poll.get("expected") for poll in polls_of(case)):
            decoded_by.setdefault(case["profile"], []).append(case_dir.name)
    shipped = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
    assert len(shipped) >= 5
    missing = [name for name in shipped if name not in decoded_by]
    assert not missing, f"profiles without a golden case in {CASES}: {missing}"


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case(case_dir: Path) -> None:
    case = load_case(case_dir)
    local = case_dir / case["profile"]
    profile = compile_profile(load_profile(local if local.is_file() else case["profile"]))
    decoder = DeviceDecoder(profile, case.get("params", {}))
    unit, function, count = case["unit"], case["function"], case["count"]
    address = case.get("address", 0)
    assert function == profile.function_code
    polls = polls_of(case)
    assert polls, "a case has at least one poll"

    for i, poll in enumerate(polls):
        where = f"poll {i + 1} ({poll['response']})"
        assert ("expected" in poll) != ("error" in poll), f"{where}: expected or error"
        frame = read_hex(case_dir / poll["response"])
        if poll.get("reconnect"):
            decoder.reset()
        if "error" in poll:
            with pytest.raises(ModbusFrameError) as info:
                parse_read_response(frame, unit, function, count)
            assert info.value.reason == poll["error"]["reason"], where
            assert poll["error"]["message"] in str(info.value), where
            assert str(info.value).startswith(info.value.reason)
            continue
        registers = parse_read_response(frame, unit, function, count)
        assert len(registers) == count
        decoded = decoder.decode(dict(zip(range(address, address + count), registers, strict=True)))
        assert decoded.fields == poll["expected"], where
        problems = poll.get("problems", {})
        assert set(decoded.problems) == set(problems), f"{where}: {decoded.problems}"
        for name, text in problems.items():
            assert text in decoded.problems[name], f"{where}: {decoded.problems[name]!r}"
        for text in poll.get("events", []):
            assert any(text in event for event in decoded.events), f"{where}: {decoded.events}"
        if not poll.get("events"):
            assert not [e for e in decoded.events if "reset" in e or "rollover" in e], where


# -- CRC and requests ---------------------------------------------------------------------------


def reference_crc(data: bytes) -> bytes:
    """Bitwise CRC-16/Modbus straight from the spec, low byte first on the wire."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


@given(st.binary(max_size=64))
def test_crc_matches_the_spec(data: bytes) -> None:
    assert crc16(data).to_bytes(2, "big") == reference_crc(data)


def test_build_read_request() -> None:
    # The textbook example: read 10 holding registers from 0 on unit 1.
    assert build_read_request(1, 3, 0, 10) == bytes.fromhex("01 03 00 00 00 0a c5 cd")
    assert build_read_request(17, 4, 8, 1) == bytes.fromhex("11 04 00 08 00 01") + reference_crc(
        bytes.fromhex("11 04 00 08 00 01")
    )
    with pytest.raises(ValueError, match="count"):
        build_read_request(1, 3, 0, 126)
    with pytest.raises(ValueError, match="function"):
        build_read_request(1, 6, 0, 1)


# -- fuzzing ------------------------------------------------------------------------------------


def check_outcome(frame: bytes, unit: int, function: int, count: int) -> list[int] | None:
    try:
        registers = parse_read_response(frame, unit, function, count)
    except ModbusFrameError as exc:
        assert exc.reason in REASONS
        assert str(exc).startswith(f"{exc.reason}: ")
        return None
    assert len(registers) == count
    assert all(0 <= r <= 0xFFFF for r in registers)
    return registers


units = st.integers(1, 247)
functions = st.sampled_from([3, 4])
counts = st.integers(1, 125)


@settings(max_examples=400)
@given(st.binary(max_size=300), units, functions, counts)
def test_no_byte_sequence_crashes_the_parser(
    frame: bytes, unit: int, function: int, count: int
) -> None:
    check_outcome(frame, unit, function, count)


@st.composite
def near_frames(draw: st.DrawFn) -> tuple[bytes, int, int, int]:
    """Frames that get past the first checks: right unit or function, sometimes a valid CRC."""
    unit, function, count = draw(units), draw(functions), draw(st.integers(1, 8))
    head = bytes(
        [
            draw(st.sampled_from([unit, unit + 1, 0])),
            draw(st.sampled_from([function, function | 0x80, 7 - function])),
            draw(st.sampled_from([2 * count, 2 * count - 1, 0, 255, 2])),
        ]
    )
    body = head + draw(st.binary(max_size=2 * count + 2))
    if draw(st.booleans()):
        body += crc16(body).to_bytes(2, "big")
    cut = draw(st.integers(0, len(body)))
    return (body[:cut] if draw(st.booleans()) else body), unit, function, count


@settings(max_examples=400)
@given(near_frames())
def test_near_miss_frames_give_a_reason(args: tuple[bytes, int, int, int]) -> None:
    check_outcome(*args)


@given(units, functions, st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_valid_frames_round_trip(unit: int, function: int, registers: list[int]) -> None:
    body = bytes([unit, function, 2 * len(registers)])
    body += b"".join(r.to_bytes(2, "big") for r in registers)
    frame = body + crc16(body).to_bytes(2, "big")
    assert check_outcome(frame, unit, function, len(registers)) == registers
    with pytest.raises(ModbusFrameError) as info:  # a flipped CRC bit is caught
        parse_read_response(frame[:-1] + bytes([frame[-1] ^ 0x10]), unit, function, len(registers))
    assert info.value.reason == "crc_error"


@settings(max_examples=300)
@given(st.binary(max_size=40), functions)
def test_response_length_agrees_with_the_parser(prefix: bytes, function: int) -> None:
    """The reader's stop rule never contradicts the parser: a known length is what the
    parser demands, and garbage is garbage to both."""
    try:
        length = response_length(prefix, function)
    except ModbusFrameError as exc:
        assert exc.reason == "garbage"
        with pytest.raises(ModbusFrameError) as info:
            parse_read_response(prefix, 1, function, 1)
        assert info.value.reason == "garbage"
        return
    if length is None:
        assert len(prefix) < 3
    else:
        assert length >= 5
        if len(prefix) < length:
            with pytest.raises(ModbusFrameError) as info:
                parse_read_response(prefix, 1, function, 1)
            assert info.value.reason == "truncated"


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[bytes, bytes, int, bool]:
    """A request, a genuine answer to it (registers or an exception), and whether the adapter
    echoes the request first."""
    unit, function = draw(units), draw(functions)
    address, count = draw(st.integers(0, 0x1000)), draw(st.integers(1, 8))
    request = build_read_request(unit, function, address, count)
    if draw(st.booleans()):
        words = draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count))
        body = bytes([unit, function, 2 * count]) + b"".join(w.to_bytes(2, "big") for w in words)
    else:
        body = bytes([unit, function | 0x80, draw(st.integers(1, 11))])
    return request, body + crc16(body).to_bytes(2, "big"), function, draw(st.booleans())


@settings(max_examples=400)
@given(exchanges(), st.data())
def test_the_reader_never_waits_for_bytes_that_do_not_come(
    exchange: tuple[bytes, bytes, int, bool], data: st.DataObject
) -> None:
    """Bytes arrive in chunks of any size, after an echo of the request or not: the reader
    never asks for more than the line will carry, stops exactly at the end of the answer,
    and what it hands on (echo dropped) is the answer."""
    request, answer, function, echo = exchange
    line = (request if echo else b"") + answer
    received = b""
    while True:
        need = answer_needs(received, request, function)
        if need <= 0:  # complete, or the start of an echo: the bus waits one silence for more
            if not echo_pending(received, request) or len(received) == len(line):
                break
            need = echo_pending(received, request)  # the echo goes on at once
        assert need <= len(line) - len(received), "waiting for bytes that will never come"
        chunk = data.draw(st.integers(1, need))
        received += line[len(received) : len(received) + chunk]
    assert received == line
    assert strip_echo(received, request) == answer


def test_an_echo_whose_start_reads_as_an_answer_is_told_by_the_line() -> None:
    """Found by Hypothesis: the first 7 bytes of this request (unit 0xe3, FC 3, address
    0x02fc, 1 register) are also a valid answer to it (byte count 2, CRC right). The bytes
    alone cannot tell; the bus waits one inter-frame silence for the rest of an echo."""
    request = bytes.fromhex("e30302fc00015200")
    assert request == build_read_request(0xE3, 3, 0x02FC, 1)
    assert answer_needs(request[:7], request, 3) == 0  # a complete answer...
    assert echo_pending(request[:7], request) == 1  # ...or an echo with one byte to come
    assert answer_needs(request, request, 3) == 3  # the echo: the answer's head comes next
    assert echo_pending(request, request) == 0


# -- no bytes crash a decoder -------------------------------------------------------------------

SHIPPED = {p.stem: compile_profile(load_profile(p.stem)) for p in PROFILE_DIR.glob("*.toml")}
PARAMS = {"level-ultrasonic-generic": {"reference": 250.0}}


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(SHIPPED)),
    st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    st.integers(1, 247),
)
def test_no_bytes_crash_a_profile_decoder(name: str, answers: list[bytes], unit: int) -> None:
    """Any bytes, poll after poll, through the frame core and a device decoder: either a
    named frame error or a Decoded whose published fields are finite and in range."""
    compiled = SHIPPED[name]
    decoder = DeviceDecoder(compiled, PARAMS.get(name, {}))
    for answer in answers:
        for (start, count), frame in zip(compiled.blocks, [answer], strict=False):
            try:
                registers = parse_read_response(frame, unit, compiled.function_code, count)
            except ModbusFrameError as exc:
                assert exc.reason in REASONS
                continue
            decoded = decoder.decode(dict(zip(range(start, start + count), registers, strict=True)))
            check_decoded(compiled, decoded)


@settings(max_examples=300)
@given(st.sampled_from(sorted(SHIPPED)), st.data())
def test_any_register_values_decode_without_crashing(name: str, data: st.DataObject) -> None:
    """Valid frames with arbitrary register values (the bytes that do get past the CRC)."""
    compiled = SHIPPED[name]
    decoder = DeviceDecoder(compiled, PARAMS.get(name, {}))
    for _ in range(data.draw(st.integers(1, 5))):
        registers: dict[int, int] = {}
        for start, count in compiled.blocks:
            values = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count))
            body = bytes([1, compiled.function_code, 2 * count])
            body += b"".join(v.to_bytes(2, "big") for v in values)
            frame = body + crc16(body).to_bytes(2, "big")
            parsed = parse_read_response(frame, 1, compiled.function_code, count)
            registers.update(zip(range(start, start + count), parsed, strict=True))
        check_decoded(compiled, decoder.decode(registers))


def check_decoded(compiled: Any, decoded: Any) -> None:
    ranges = {f.name: f.range for f in compiled.profile.fields}
    ranges.update({d.name: d.range for d, _ in compiled.derived})
    assert not set(decoded.fields) & set(decoded.problems)
    for name, value in decoded.fields.items():
        assert value == value and abs(value) != float("inf")
        bounds = ranges[name]
        assert bounds is None or bounds[0] <= value <= bounds[1]
    assert all(isinstance(why, str) and why for why in decoded.problems.values())
