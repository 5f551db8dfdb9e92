"""NMEA 0183 from the gateway's GPS: golden cases, round trips, fuzzing
(gateway/devices/nmea_gps/protocol.py).

Golden cases live in gateway/devices/nmea_gps/cases/<case>/: ``case.toml`` (``description``),
``input.txt`` (raw lines) or ``input.hex`` (hex of raw bytes), and ``expected.json``:
``{"events": [...], "info": {...}}`` with one event per line, in order (``{"rmc": {...}}``,
``{"gga": {...}}``, ``{"other": "GPGSV"}`` or ``{"error": reason, "message": substring}``), and
the facts a :class:`GpsTracker` fed with the good events reports for the gateway status.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.framing import LineFramer
from gateway.devices.nmea_gps.protocol import (
    MAX_LINE,
    WEEK_ROLLOVER_S,
    Event,
    Gga,
    GpsTracker,
    NmeaError,
    OffsetEstimator,
    Other,
    Rmc,
    checksum,
    format_gga,
    format_rmc,
    frame,
    parse_sentence,
    week_rollover_suspected,
)
from testkit import REPO

CASES = REPO / "gateway" / "devices" / "nmea_gps" / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if (p / "case.toml").is_file())
REASONS = {"format", "checksum", "field"}
T0 = 1_796_027_415_000  # 2026-11-30T08:30:15Z


def _input(case: Path) -> bytes:
    if (case / "input.hex").exists():
        return bytes.fromhex((case / "input.hex").read_text())
    return (case / "input.txt").read_bytes()


def _as_dict(event: Event) -> dict:
    if isinstance(event, Other):
        return {"other": event.sentence}
    return {type(event).__name__.lower(): asdict(event)}


def _outcomes(lines: list[bytes], tracker: GpsTracker) -> list[dict]:
    outcomes = []
    for line in lines:
        try:
            event = parse_sentence(line)
        except NmeaError as exc:
            assert str(exc).startswith(exc.reason)
            outcomes.append({"error": exc.reason, "message": exc.message})
            continue
        tracker.feed(event)
        outcomes.append(_as_dict(event))
    return outcomes


def _check(outcomes: list[dict], expected: list[dict]) -> None:
    assert len(outcomes) == len(expected)
    for got, want in zip(outcomes, expected, strict=True):
        if "error" in want:
            assert got.get("error") == want["error"], got
            assert want["message"] in got["message"], got["message"]
        else:
            assert got == want


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_golden_case(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    data = _input(case)
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    tracker = GpsTracker()
    _check(_outcomes(lines, tracker), expected["events"])
    assert tracker.info() == expected["info"]
    if all(line.strip() for line in lines):
        # The framer cuts the same lines out of the stream, whatever the chunk size.
        framer = LineFramer(MAX_LINE)
        framer.feed(b"\n")
        cut = [line for i in range(0, len(data), 7) for line in framer.feed(data[i : i + 7])]
        tracker = GpsTracker()
        _check(_outcomes(cut, tracker), expected["events"])
        assert tracker.info() == expected["info"]


REQUIRED_CASES = (
    "rmc-gga-valid-fix-sarolangun",
    "gn-talker-with-other-sentences",
    "bad-checksum",
    "no-fix-cold-start",
    "garbage-binary",
    "truncated-sentence",
)


def test_cases_cover_the_required_situations() -> None:
    assert set(REQUIRED_CASES) <= {p.name for p in CASE_DIRS}


# -- wire format, round trips, fuzzing --------------------------------------------------------
def test_format_is_the_exact_wire_line() -> None:
    assert checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == "47"
    assert format_rmc(T0, -2.3, 102.7) == (
        b"$GPRMC,083015.00,A,0218.00000,S,10242.00000,E,0.0,,301126,,,A*6B\r\n"
    )
    assert format_gga(T0, -2.3, 102.7, 35.0, quality=0, satellites=2, talker="GN") == (
        b"$GNGGA,083015.00,,,,,0,02,,,M,,M,,*5B\r\n"
    )


positions = st.tuples(
    st.floats(-89.99, 89.99), st.floats(-179.99, 179.99), st.floats(-400, 8000)
).map(lambda p: (round(p[0], 7), round(p[1], 7), round(p[2], 1)))
times = st.integers(946_684_800_000, 3_471_292_799_990).map(lambda t: t - t % 10)


@given(times, positions, st.sampled_from(["GP", "GN", "GL"]))
def test_format_then_parse_round_trips(time_ms: int, position: tuple, talker: str) -> None:
    latitude, longitude, altitude = position
    rmc = parse_sentence(format_rmc(time_ms, latitude, longitude, talker=talker))
    assert isinstance(rmc, Rmc) and rmc.valid and rmc.talker == talker
    assert rmc.time_ms == time_ms
    assert rmc.latitude == pytest.approx(latitude, abs=2e-7)
    assert rmc.longitude == pytest.approx(longitude, abs=2e-7)
    gga = parse_sentence(format_gga(time_ms, latitude, longitude, altitude, talker=talker))
    assert isinstance(gga, Gga) and gga.fix and gga.satellites == 9
    assert gga.time_of_day_ms == time_ms % 86_400_000
    assert gga.altitude == altitude
    assert (gga.latitude, gga.longitude) == (rmc.latitude, rmc.longitude)


@given(st.binary(max_size=300))
def test_no_bytes_crash_the_parser(data: bytes) -> None:
    try:
        parse_sentence(data)
    except NmeaError as exc:
        assert exc.reason in REASONS
        assert exc.message


@given(
    st.sampled_from(["GPRMC", "GNGGA", "GPGSV", "GPGLL", "GPVTG", "GPZDA", "PUBX", "GPGSA"]),
    st.lists(st.text(alphabet="0123456789.,-+ANSEWVMDT#", max_size=12), max_size=16),
)
def test_no_field_text_behind_a_good_checksum_crashes_the_parser(
    kind: str, fields: list[str]
) -> None:
    """pynmea2 gets past framing and checksum here and meets every kind of field text."""
    try:
        event = parse_sentence(frame(",".join([kind, *fields])))
    except NmeaError as exc:
        assert exc.reason in REASONS
    else:
        assert isinstance(event, Rmc | Gga | Other)


@given(times, positions, st.integers(0, 80), st.integers(1, 255))
def test_a_corrupted_byte_is_refused_or_changes_nothing(
    time_ms: int, position: tuple, pos: int, flip: int
) -> None:
    line = bytearray(format_gga(time_ms, *position))
    original = parse_sentence(bytes(line))
    line[pos % (len(line) - 2)] ^= flip  # not the \r\n
    try:
        event = parse_sentence(bytes(line))
    except NmeaError:
        return
    assert event == original  # e.g. a checksum digit changed to lower case


# -- clock offset -----------------------------------------------------------------------------
def test_offset_estimate_is_the_smallest_recent_sample() -> None:
    estimator = OffsetEstimator(window=4)
    assert estimator.add(-29.8) == -29.8
    assert estimator.add(-29.95) == -29.95
    assert estimator.add(-28.0) == -29.95  # a late sentence does not move it
    estimator.add(-29.7)
    estimator.add(-29.7)
    assert estimator.add(-29.6) == -29.7  # -29.95 has left the window
    estimator.clear()
    assert estimator.add(1.0) == 1.0


def test_week_rollover_is_told_apart_from_a_wrong_clock() -> None:
    assert week_rollover_suspected(WEEK_ROLLOVER_S + 3.0)
    assert week_rollover_suspected(2 * WEEK_ROLLOVER_S - 86400)
    assert not week_rollover_suspected(-30.0)
    assert not week_rollover_suspected(3 * 86400.0)
    assert not week_rollover_suspected(WEEK_ROLLOVER_S + 5 * 86400)
