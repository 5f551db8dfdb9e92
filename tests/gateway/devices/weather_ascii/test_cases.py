"""WXT-style weather sentences: golden cases, CRC, round trips, fuzzing
(gateway/devices/weather_ascii/protocol.py).

Golden cases live in gateway/devices/weather_ascii/cases/<case>/: ``case.toml`` (``description``
and an
optional ``[decoder]`` table of :class:`WeatherDecoder` options), ``input.txt`` (raw lines) or
``input.hex`` (hex of raw bytes), and ``expected.json``: one entry per line, in order, either
``{"fields": {...}, "missing": [...], "problems": {key: message substring}, "crc": bool}``
(``missing``, ``problems`` and ``crc`` optional) or ``{"error": reason, "message": substring}``.
The lines go through one decoder, so rain deltas carry from line to line.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.framing import LineFramer
from gateway.devices.weather_ascii.protocol import (
    MAX_LINE,
    QUANTITIES,
    RainCounter,
    WeatherDecoder,
    WeatherError,
    crc16,
    encode_crc,
    format_query,
    format_sentence,
    parse_sentence,
)
from simulators.devices.weather_station import WeatherState, encode, physical_values
from testkit import REPO
from testkit.vectors import WXT_MANUAL_CRCS

CASES = REPO / "gateway" / "devices" / "weather_ascii" / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.toml").is_file())
REASONS = {"format", "crc", "address"}


def _input(case: Path) -> bytes:
    if (case / "input.hex").exists():
        return bytes.fromhex((case / "input.hex").read_text())
    return (case / "input.txt").read_bytes()


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _outcome(decoder: WeatherDecoder, line: bytes, expected: dict) -> None:
    if "error" in expected:
        with pytest.raises(WeatherError) as info:
            decoder.decode(line)
        assert info.value.reason == expected["error"], info.value
        assert expected["message"] in info.value.message, info.value.message
        assert str(info.value).startswith(info.value.reason)
        return
    decoded = decoder.decode(line)
    assert decoded.fields == expected["fields"]
    assert list(decoded.sentence.missing) == expected.get("missing", [])
    problems = expected.get("problems", {})
    assert sorted(decoded.sentence.problems) == sorted(problems)
    for key, needle in problems.items():
        assert needle in decoded.sentence.problems[key], decoded.sentence.problems[key]
    if "crc" in expected:
        assert decoded.sentence.crc is expected["crc"]


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_golden_case(case: Path) -> None:
    options = tomllib.loads((case / "case.toml").read_text()).get("decoder", {})
    expected = json.loads((case / "expected.json").read_text())
    data = _input(case)
    lines = _lines(data)
    assert len(lines) == len(expected), "one expected entry per input line"
    decoder = WeatherDecoder(**options)
    for line, outcome in zip(lines, expected, strict=True):
        _outcome(decoder, line, outcome)
    if all(line.strip() for line in lines):
        # The framer cuts the same lines out of the stream, whatever the chunk size.
        framer = LineFramer(MAX_LINE)
        framer.feed(b"\n")
        cut = [line for i in range(0, len(data), 5) for line in framer.feed(data[i : i + 5])]
        assert len(cut) == len(expected)
        decoder = WeatherDecoder(**options)
        for line, outcome in zip(cut, expected, strict=True):
            _outcome(decoder, line, outcome)


REQUIRED_CASES = (
    "composite-doc-example",
    "composite-all-parameters",
    "missing-hash-values",
    "unit-conversions",
    "crc-bad",
    "garbage-binary",
    "truncated-value",
    "rain-accumulator-reset",
    "rain-accumulator-rollover",
)


def test_cases_cover_the_required_situations() -> None:
    names = {p.name for p in CASE_DIRS}
    assert set(REQUIRED_CASES) <= names


# -- CRC --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "expected"), WXT_MANUAL_CRCS)
def test_crc_matches_the_wxt_manual(body: bytes, expected: bytes) -> None:
    assert encode_crc(crc16(body)) == expected


def test_crc_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value
    assert crc16(b"") == 0
    assert encode_crc(0) == b"@@@"
    assert encode_crc(0xFFFF) == b"O\x7f\x7f"


def test_queries() -> None:
    assert format_query() == b"0R0\r\n"
    assert format_query("1", 0, crc=True) == b"1r0" + encode_crc(crc16(b"1r0")) + b"\r\n"
    assert format_query("0", 0, crc=True) == b"0r0Kld\r\n"


# -- round trips and fuzzing ------------------------------------------------------------------
states = st.builds(
    WeatherState,
    wind_direction=st.floats(0, 359.4),
    wind_speed=st.floats(0, 40),
    temperature=st.floats(-20, 50),
    humidity=st.floats(0, 100),
    pressure=st.floats(800, 1100),
    rain_total=st.floats(0, 5000),
    rain_intensity=st.floats(0, 200),
)
unit_choices = st.fixed_dictionaries(
    {
        "wind": st.sampled_from("MKSN"),
        "temperature": st.sampled_from("CF"),
        "pressure": st.sampled_from("HPBMI"),
        "rain": st.sampled_from("MI"),
    }
)


@given(states, unit_choices, st.booleans(), st.sets(st.sampled_from(sorted(QUANTITIES))))
def test_simulator_sentences_parse_to_their_values(
    state: WeatherState, units: dict, crc: bool, invalid: set[str]
) -> None:
    items = encode(state, units, invalid)
    sentence = parse_sentence(format_sentence("0", 0, items, crc=crc), require_crc=crc)
    assert sentence.values == physical_values(items)
    assert set(sentence.missing) == invalid
    assert sentence.problems == {}
    assert sentence.crc is crc
    # The physical values are the state's, within the wire's resolution.
    values = sentence.values
    if "Ta" not in invalid:
        assert abs(values["temperature"] - state.temperature) <= 0.06
    if "Pa" not in invalid:
        assert abs(values["pressure"] - state.pressure) <= 0.51  # Pa: whole pascals, x/100
    if "Sm" not in invalid:
        assert abs(values["wind_speed"] - state.wind_speed) <= 0.06


@given(st.binary(max_size=600), st.booleans())
def test_no_bytes_crash_the_parser(data: bytes, require_crc: bool) -> None:
    try:
        parse_sentence(data, require_crc=require_crc)
    except WeatherError as exc:
        assert exc.reason in REASONS
        assert exc.message


@given(st.text(alphabet="0Rr,=.#-+123DMCPHKSNIFBs TaUmcRi", max_size=120))
def test_no_sentence_like_text_crashes_the_decoder(text: str) -> None:
    decoder = WeatherDecoder()
    try:
        decoded = decoder.decode(text.encode())
    except WeatherError as exc:
        assert exc.reason in REASONS
    else:
        assert all(isinstance(v, float) for v in decoded.fields.values())


@given(states, st.integers(0, 200), st.integers(1, 255))
def test_any_single_byte_corruption_is_refused_with_crc(
    state: WeatherState, pos: int, flip: int
) -> None:
    line = bytearray(format_sentence("0", 0, encode(state, {}), crc=True))
    line[pos % (len(line) - 2)] ^= flip  # not the \r\n
    with pytest.raises(WeatherError):
        parse_sentence(bytes(line), require_crc=True)


# -- rain -------------------------------------------------------------------------------------
@given(st.lists(st.integers(0, 500), min_size=1, max_size=30))
def test_rain_deltas_add_up_to_the_accumulated_rain(steps: list[int]) -> None:
    counter = RainCounter()
    total = 12.34
    assert counter.feed(total) is None
    rain = 0.0
    for step in steps:
        total = round(total + step / 100, 2)
        delta = counter.feed(total)
        assert delta is not None and delta >= 0
        rain += delta
    assert rain == pytest.approx(total - 12.34, abs=1e-6)


def test_rain_counter_reset_and_rollover() -> None:
    counter = RainCounter(rollover=1000.0)
    assert [counter.feed(v) for v in (998.0, 999.5, 0.5, 3.0, 1.0)] == [None, 1.5, 1.0, 2.5, 1.0]
    assert (counter.rollovers, counter.resets) == (1, 1)
    with pytest.raises(ValueError):
        RainCounter(rollover=0)
