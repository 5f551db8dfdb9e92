"""The GPS emulator's own NMEA encoder (simulators/devices/wire/nmea.py): published known
answers, then the gateway's real parser reading what the emulator sends and recovering the
emulator's truth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.nmea_gps.protocol import Gga, GpsTracker, Other, Rmc, parse_sentence
from simulators.devices.gps import GpsSim
from simulators.devices.serial_link import SerialLink
from simulators.devices.wire import nmea
from simulators.truth import TruthWriter, read_truth

# -- known answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "checksum"),
    [
        # The reference sentences of the NMEA tutorials (Munich, 23 March 1994), with their
        # published checksums.
        ("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "47"),
        ("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", "6A"),
        ("GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1", "39"),
    ],
)
def test_checksum_of_published_sentences(body: str, checksum: str) -> None:
    assert nmea.checksum(body) == int(checksum, 16)
    assert nmea.sentence(body) == f"${body}*{checksum}\r\n".encode()


def test_positions_are_degrees_and_minutes_with_five_decimals() -> None:
    munich = nmea.position(48 + 7.038 / 60, 11 + 31 / 60)  # the tutorials' 4807.038 N 01131.000 E
    assert munich.fields == "4807.03800,N,01131.00000,E"
    jambi = nmea.position(-(1 + 35.5 / 60), -(103 + 36.25 / 60))
    assert jambi.fields == "0135.50000,S,10336.25000,W"
    assert jambi.latitude == pytest.approx(-(1 + 35.5 / 60), abs=1e-12)
    # 59.999996' rounds up into the next degree, never to "60.00000"
    assert nmea.position(2 - 0.000004 / 60, 0).fields == "0200.00000,N,00000.00000,E"
    # a value that rounds to zero is written north/east, not "S" with zero minutes
    assert nmea.position(-1e-9, -1e-9).fields == "0000.00000,N,00000.00000,E"
    assert nmea.position(90, -180).fields == "9000.00000,N,18000.00000,W"
    with pytest.raises(ValueError):
        nmea.position(90.5, 0)


def test_times_and_sentences_as_written() -> None:
    t = 1_796_025_601_250  # 2026-11-30T08:00:01.250Z (the traffic counter's doc example)
    assert nmea.utc(t) == ("080001.25", "301126")
    assert nmea.utc(946_684_799_999) == ("235959.99", "311299")  # hundredths are truncated
    where = nmea.position(-2.3, 102.7)
    assert nmea.rmc(t, where) == nmea.sentence(
        "GPRMC,080001.25,A,0218.00000,S,10242.00000,E,0.0,,301126,,,A"
    )
    assert nmea.rmc(t, None, "GN") == nmea.sentence("GNRMC,080001.25,V,,,,,,,301126,,,N")
    assert nmea.gga(t, where, 35.04, 9) == nmea.sentence(
        "GPGGA,080001.25,0218.00000,S,10242.00000,E,1,09,0.9,35.0,M,0.0,M,,"
    )
    assert nmea.gga(t, None, 35.0, 2) == nmea.sentence("GPGGA,080001.25,,,,,0,02,,,M,,M,,")
    assert nmea.gsa(True, [4, 5], 2.5, 1.3, 2.1) == nmea.sentence(
        "GPGSA,A,3,04,05,,,,,,,,,,,2.5,1.3,2.1"
    )


# -- the gateway's parser reads what the emulator writes ------------------------------------------

times = st.integers(946_684_800_000, 3_471_292_799_999)  # 2000-01-01 .. 2079-12-31 (ddmmyy)
latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)


@given(times, latitudes, longitudes, st.sampled_from(["GP", "GN", "GL"]))
def test_the_gateway_reads_the_emulators_rmc(time_ms: int, lat: float, lon: float, talker) -> None:
    where = nmea.position(lat, lon)
    event = parse_sentence(nmea.rmc(time_ms, where, talker))
    assert isinstance(event, Rmc)
    assert (event.talker, event.valid, event.time_ms) == (talker, True, time_ms // 10 * 10)
    assert event.latitude == pytest.approx(where.latitude, abs=5.1e-8)  # the gateway keeps 7
    assert event.longitude == pytest.approx(where.longitude, abs=5.1e-8)
    assert abs(where.latitude - lat) <= 0.5 / nmea._STEPS_PER_DEGREE + 1e-12
    lost = parse_sentence(nmea.rmc(time_ms, None, talker))
    assert isinstance(lost, Rmc) and not lost.valid and lost.latitude is None


@given(
    times,
    latitudes,
    longitudes,
    st.floats(-400, 9000, allow_nan=False),
    st.integers(0, 99),
    st.integers(1, 5),
)
def test_the_gateway_reads_the_emulators_gga(
    time_ms: int, lat: float, lon: float, altitude: float, satellites: int, quality: int
) -> None:
    where = nmea.position(lat, lon)
    event = parse_sentence(nmea.gga(time_ms, where, altitude, satellites, quality=quality))
    assert isinstance(event, Gga)
    assert event.fix and (event.quality, event.satellites) == (quality, satellites)
    assert event.time_of_day_ms == time_ms % 86_400_000 // 10 * 10
    assert event.altitude == float(nmea.altitude_text(altitude))
    assert event.latitude == pytest.approx(where.latitude, abs=5.1e-8)
    assert event.longitude == pytest.approx(where.longitude, abs=5.1e-8)
    none = parse_sentence(nmea.gga(time_ms, None, altitude, satellites))
    assert isinstance(none, Gga) and not none.fix and none.latitude is None


def test_the_gateway_reads_every_epoch_the_gps_emulator_sends(tmp_path: Path) -> None:
    """GpsSim's bytes over a real pty, read with pyserial and given to the gateway's parser and
    tracker: every sentence is accepted, and what the tracker reports is the truth line."""
    truth = TruthWriter(tmp_path / "truth.jsonl")
    t0 = 1_800_000_000_000
    with (
        SerialLink(tmp_path / "ttyGPS") as link,
        serial.Serial(link.path, 9600, timeout=0.1) as port,
        GpsSim(link.device_path, seed=3, talker="GN", truth=truth, clock=lambda: t0 / 1000) as sim,
    ):
        sim.silent = True  # no epochs of its own: this test sends them
        for k in range(20):
            sim.fix = k % 7 != 6
            sim.send_epoch(t0 + 1000 * k)
        lines = read_lines(port, 3 * 20)
    truth.close()
    records = read_truth(tmp_path / "truth.jsonl")
    assert len(records) == 20 and sum(r["fix"] for r in records) == 18
    for k, record in enumerate(records):
        tracker = GpsTracker()
        events = [parse_sentence(line) for line in lines[3 * k : 3 * k + 3]]
        assert [type(e) for e in events] == [Rmc, Gga, Other]
        for event in events:
            tracker.feed(event)
        assert tracker.fix is record["fix"]
        assert tracker.satellites == record["satellites"]
        assert isinstance(events[0], Rmc) and events[0].time_ms == record["time"]
        if record["fix"]:
            assert tracker.position is not None
            assert tracker.position["latitude"] == pytest.approx(record["latitude"], abs=6e-7)
            assert tracker.position["longitude"] == pytest.approx(record["longitude"], abs=6e-7)
            assert tracker.position["altitude"] == record["altitude"]
        else:
            assert record["latitude"] is None and tracker.position is None


def read_lines(port: serial.Serial, n: int, timeout: float = 5.0) -> list[bytes]:
    """*n* lines from *port*, or fail after *timeout* seconds."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < n and time.monotonic() < deadline:
        data += port.read(port.in_waiting or 1)
    lines = data.splitlines(keepends=True)
    assert len(lines) == n, lines
    return lines
