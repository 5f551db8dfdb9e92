"""The weather station emulator's own encoder (simulators/devices/wire/wxt.py): CRCs and
sentences from the WXT530 user guide and docs/protocol.md 5.3, unit conversions from the
units' definitions, then the gateway's real parser reading what the emulator sends and
recovering the emulator's truth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.weather_ascii.protocol import (
    WeatherDecoder,
    crc16,
    encode_crc,
    format_query,
    parse_sentence,
)
from simulators.devices.serial_link import SerialLink
from simulators.devices.weather_station import (
    WeatherState,
    WeatherStationSim,
    encode,
    physical_values,
)
from simulators.devices.wire import wxt
from simulators.truth import TruthWriter, read_truth
from testkit.vectors import WXT_MANUAL_CRCS

#: What one composite sentence (0R0) of the emulated station carries.
WXT_VALUES = {"wind_direction", "wind_speed", "temperature", "humidity", "pressure"}
WXT_VALUES |= {"rain_total", "rain_intensity"}

DOC_STATE = WeatherState(283.4, 1.04, 23.56, 54.2, 1006.6, 0.0, 0.0)

# -- known answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        *WXT_MANUAL_CRCS,
        # The CRC sentences of gateway/devices/weather_ascii/cases/ (crc-good-poll-answer, and
        # crc-bad before its digit was corrupted).
        (b"0r0,Dm=283D,Sm=1.0M,Ta=23.6C,Ua=54.2P,Pa=1006.6H,Rc=0.00M,Ri=0.0M,Hc=0.0M", b"DMF"),
        (b"0r0,Dm=283D,Sm=1.0M,Ta=23.6C,Ua=54.2P,Pa=1006.6H", b"GQ~"),
    ],
)
def test_crc_of_the_manuals_examples(body: bytes, expected: bytes) -> None:
    assert wxt.crc_text(body) == expected


def test_crc_is_crc16_arc() -> None:
    assert wxt.crc16(b"123456789") == 0xBB3D  # the check value of CRC-16/ARC (CRC catalogue)
    assert wxt.crc16(b"") == 0
    assert wxt.chksum_hint("0", b"Goe") == b"0tX,Use chksum GoeIU~\r\n"


def test_the_doc_example_sentence() -> None:
    items = encode(DOC_STATE, {})
    assert wxt.message("0", 0, items, crc=False) == (
        b"0R0,Dm=283D,Sm=1.0M,Ta=23.6C,Ua=54.2P,Pa=1006.6H,Rc=0.00M,Ri=0.0M,Hc=0.0M\r\n"
    )
    assert wxt.message("0", 0, items, crc=True) == (
        b"0r0,Dm=283D,Sm=1.0M,Ta=23.6C,Ua=54.2P,Pa=1006.6H,Rc=0.00M,Ri=0.0M,Hc=0.0MDMF\r\n"
    )
    invalid = dict(encode(DOC_STATE, {}, invalid={"Ta", "Dm"}))
    assert (invalid["Ta"], invalid["Dm"], invalid["Sm"]) == ("#C", "#D", "1.0M")


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [  # from the units' definitions, worked by hand
        ("Sm", "10.0S", 4.4704),  # 1 mph = 0.44704 m/s
        ("Sm", "36.0K", 10.0),
        ("Sm", "10.0N", 5.1444),  # 1 kn = 1852 m / 3600 s = 0.514444 m/s
        ("Ta", "86.0F", 30.0),
        ("Ta", "32.0F", 0.0),
        ("Ta", "-3.5C", -3.5),
        ("Pa", "100940P", 1009.4),
        ("Pa", "1.0094B", 1009.4),
        ("Pa", "757.1M", 1009.3838),  # 757.1 x 133.322387415 Pa = 100938.3795 Pa
        ("Pa", "29.92I", 1013.2075),  # 29.92 x 25.4 x 133.322387415 Pa = 101320.748 Pa
        ("Rc", "0.100I", 2.54),
        ("Ri", "0.50I", 12.7),
        ("Dm", "007D", 7.0),
        ("Ua", "65.0P", 65.0),
        ("Ta", "#C", None),
        ("Hc", "0.0M", None),
    ],
)
def test_written_values_stand_for(key: str, text: str, value: float | None) -> None:
    assert wxt.value_of(key, text) == value


def test_values_as_the_station_writes_them() -> None:
    assert wxt.written("pressure", "P", 1009.25) == "100925P"
    assert wxt.written("pressure", "I", 1013.2075) == "29.920I"
    assert wxt.written("wind", "K", 10.0) == "36.0K"
    assert wxt.written("temperature", "F", -40.0) == "-40.0F"
    assert wxt.written("rain", "M", 12.345, fewer_decimals=1) == "12.3M"


# -- the gateway's parser reads what the emulator writes ------------------------------------------

states = st.builds(
    WeatherState,
    wind_direction=st.floats(0, 359.4),
    wind_speed=st.floats(0, 40),
    temperature=st.floats(-40, 55),
    humidity=st.floats(0, 100),
    pressure=st.floats(800, 1100),
    rain_total=st.floats(0, 5000),
    rain_intensity=st.floats(0, 200),
)
unit_choices = st.fixed_dictionaries(
    {group: st.sampled_from(sorted(letters)) for group, letters in wxt.UNITS.items()}
)


@given(
    states,
    unit_choices,
    st.booleans(),
    st.sets(st.sampled_from(sorted(wxt.KEYS))),
    st.sampled_from("019aZ"),
)
def test_the_gateway_reads_every_sentence(
    state: WeatherState, units: dict, crc: bool, invalid: set[str], address: str
) -> None:
    items = encode(state, units, invalid)
    sentence = parse_sentence(wxt.message(address, 0, items, crc=crc), require_crc=crc)
    assert sentence.values == physical_values(items)
    assert (sentence.address, sentence.crc, sentence.problems) == (address, crc, {})
    assert set(sentence.missing) == invalid


def test_poll_with_crc_between_the_gateways_query_and_the_emulator(tmp_path: Path) -> None:
    """The gateway's CRC query gets a CRC answer that its decoder accepts and that is the
    station's truth; a query with a wrong CRC gets the manual's hint, whose CRC the gateway's
    code computes alike. Over a real pty with pyserial."""
    truth = TruthWriter(tmp_path / "truth.jsonl")
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        serial.Serial(link.path, 9600, timeout=0.1) as port,
        WeatherStationSim(
            link.device_path, seed=4, units={"pressure": "M", "wind": "N"}, truth=truth
        ),
    ):
        decoder = WeatherDecoder(require_crc=True)
        decoded = []
        for _ in range(3):
            port.write(format_query("0", 0, crc=True))
            decoded.append(decoder.decode(read_line(port)))
        port.write(b"0r0XYZ\r\n")
        hint = read_line(port).rstrip(b"\r\n")
    truth.close()
    assert hint[:-3] == b"0tX,Use chksum " + encode_crc(crc16(b"0r0"))
    assert hint[-3:] == encode_crc(crc16(hint[:-3]))
    sent = read_truth(tmp_path / "truth.jsonl")
    assert len(sent) == 3
    for got, line in zip(decoded, sent, strict=True):
        assert got.sentence.crc
        assert got.sentence.values == {k: v for k, v in line.items() if k in got.sentence.values}
        assert set(got.sentence.values) == WXT_VALUES


def read_line(port: serial.Serial, timeout: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        data += port.read(1)
    assert data.endswith(b"\n"), data
    return data
