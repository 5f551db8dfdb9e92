"""Golden Modbus RTU cases and a fuzzer for the pure frame core.

Each folder in tests/cases/modbus/<case>/ holds ``case.toml`` (profile, unit, function,
address, count and either ``[expected]`` decoded fields or ``[error]`` reason and message
substring) and ``response.hex`` (the raw bytes received; ``#`` starts a comment). Adding a
sensor model or a bug case is one folder, no Python.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.modbus_frames import (
    ModbusFrameError,
    build_read_request,
    crc16,
    parse_read_response,
)
from gateway.profile import compile_profile, load_profile

CASES = Path(__file__).parent / "cases" / "modbus"
REASONS = {"crc_error", "truncated", "garbage", "exception", "wrong_unit", "wrong_length"}
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.toml").is_file())


def read_hex(path: Path) -> bytes:
    lines = (line.split("#", 1)[0] for line in path.read_text().splitlines())
    return bytes.fromhex(" ".join(lines))


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
    }
    assert required <= names


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case(case_dir: Path) -> None:
    case = tomllib.loads((case_dir / "case.toml").read_text())
    frame = read_hex(case_dir / "response.hex")
    local = case_dir / case["profile"]
    profile = compile_profile(load_profile(local if local.is_file() else case["profile"]))
    assert ("expected" in case) != ("error" in case), "a case expects fields or an error"
    unit, function, count = case["unit"], case["function"], case["count"]
    address = case.get("address", 0)
    assert function == profile.function_code

    if "error" in case:
        with pytest.raises(ModbusFrameError) as info:
            parse_read_response(frame, unit, function, count)
        assert info.value.reason == case["error"]["reason"]
        assert case["error"]["message"] in str(info.value)
        assert str(info.value).startswith(info.value.reason)
        return

    registers = parse_read_response(frame, unit, function, count)
    assert len(registers) == count
    fields = profile.decode(dict(zip(range(address, address + count), registers, strict=True)))
    assert fields == case["expected"]


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
