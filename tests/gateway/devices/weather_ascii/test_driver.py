"""The weather station path over real serial I/O: simulator -> pty pair -> pyserial -> driver.

Each test runs the emulated station (:class:`WeatherStationSim`) on the device side of a
:class:`SerialLink` and the real :class:`WeatherAsciiDriver` on the gateway side, each in its
own thread, in real time. Readings are checked against the simulator's ground truth: every
reading must be one sentence the station sent, in order, with the rain of the interval equal
to the growth of the station's accumulator since the previous reading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.config import load_gateway_config
from gateway.devices import DRIVERS
from gateway.devices.weather_ascii.driver import WeatherAsciiConfig, WeatherAsciiDriver
from gateway.devices.weather_ascii.protocol import format_sentence
from kernel.config import ConfigError
from simulators.devices.serial_link import SerialLink
from simulators.devices.weather_station import WeatherStationSim
from simulators.truth import TruthWriter, read_truth
from telemetry.models import Reading
from testkit.drivers import Collector, in_thread, wait_for

IMPERIAL = {"wind": "S", "temperature": "F", "pressure": "I", "rain": "I"}


@contextmanager
def running_driver(link: SerialLink, sink: Collector, **overrides) -> Iterator[WeatherAsciiDriver]:
    config = WeatherAsciiConfig.model_validate(
        {
            "id": "wx1",
            "driver": "weather_ascii",
            "serial": {"port": link.path, "baudrate": 9600, "timeout": 0.5},
            "poll_interval": 1,
            "answer_timeout": 1.0,
            "reopen_interval": 0.1,
            **overrides,
        }
    )
    driver = WeatherAsciiDriver(config, sink)
    with in_thread(driver):
        yield driver


def check_against_truth(readings: list[Reading], truth: list[dict]) -> list[int]:
    """Every reading is a sent sentence, in order; rain = accumulator growth since the last.
    Returns the index in the truth of each reading's sentence."""
    sent = [t for t in truth if t["kind"] == "weather_values"]
    index = -1
    matched = []
    previous_total: float | None = None
    for reading in readings:
        expected = None
        while expected is None:
            index += 1
            assert index < len(sent), f"reading {reading} is not in the truth"
            candidate = sent[index]
            same = all(
                candidate.get(name) == value
                for name, value in reading.fields.items()
                if name != "rain"
            )
            expected = candidate if same else None
        values = {k: v for k, v in expected.items() if k in reading.fields or k == "rain_total"}
        for name in ("wind_direction", "wind_speed", "temperature", "humidity", "pressure"):
            assert reading.fields.get(name) == values.get(name), (name, reading, expected)
        assert reading.fields["rain_intensity"] == expected["rain_intensity"]
        if previous_total is None:
            assert "rain" not in reading.fields  # the first sentence gives no delta
        else:
            growth = expected["rain_total"] - previous_total
            assert reading.fields["rain"] == pytest.approx(growth, abs=1e-3), (reading, expected)
        previous_total = expected["rain_total"]
        matched.append(index)
    return matched


def test_registered() -> None:
    assert DRIVERS["weather_ascii"] == (WeatherAsciiConfig, WeatherAsciiDriver)


def test_poll_mode_with_crc_and_imperial_units_matches_truth(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    sink = Collector()
    started = time.monotonic()
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        WeatherStationSim(
            link.device_path, seed=4, units=IMPERIAL, storm=True, time_scale=900, truth=truth
        ) as sim,
        running_driver(link, sink, crc="check") as driver,
    ):
        assert wait_for(lambda: len(sink.snapshot()) >= 4, 10), sink.snapshot()
        state, errors = driver.state, dict(driver.errors)
    finished = time.monotonic()
    truth.close()
    readings, sent = sink.snapshot(), read_truth(truth_path)
    assert state == "ok" and errors == {}
    assert driver.sentences == len(readings)
    assert len(sent) == sim.queries in (len(readings), len(readings) + 1)  # + one in flight
    assert all(t["line"].startswith("0r0,") for t in sent)  # answered with a CRC
    assert all("Ta=" in t["line"] and "F," in t["line"] for t in sent)  # in Fahrenheit
    check_against_truth(readings, sent)
    assert sum(r.fields.get("rain", 0) for r in readings) > 0  # it rained, and it arrived
    assert all(r.measurement == "weather" and r.sensor == "wx1" for r in readings)
    # One poll per poll_interval (1 s), never more: the first at start, then aligned.
    assert sim.queries <= (finished - started) + 2, (sim.queries, finished - started)


def test_stream_mode_matches_truth(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        running_driver(link, sink, mode="stream", stream_timeout=2.0) as driver,
    ):
        assert wait_for(lambda: driver.state == "ok", 3), driver.state
        with WeatherStationSim(
            link.device_path,
            seed=7,
            mode="stream",
            interval=0.2,
            units={"wind": "K", "pressure": "P"},
            storm=True,
            time_scale=900,
            truth=truth,
        ):
            assert wait_for(lambda: len(sink.snapshot()) >= 8, 10)
        state, errors = driver.state, dict(driver.errors)
    truth.close()
    assert state == "ok" and errors == {}
    check_against_truth(sink.snapshot(), read_truth(truth_path))


def test_bad_input_is_counted_skipped_and_good_data_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.device.wx1")
    sink = Collector()
    good = format_sentence("0", 0, [("Dm", "100D"), ("Ta", "25.0C"), ("Rc", "1.00M")])
    steps: list[tuple[bytes, str]] = [
        (good, "ok"),
        (b"\x00\xff\xfe\x13 line noise \x07\r\n", "decode_error"),
        (format_sentence("0", 0, [("Ta", "25.0C")], crc=True).replace(b"25", b"35"), "ok"),
        (b"0R0,Dm=100D,Ta=2\r\n", "decode_error"),  # truncated
        (format_sentence("1", 0, [("Ta", "25.0C")]), "decode_error"),  # another station
        (format_sentence("0", 0, [("Dm", "101D"), ("Ta", "#C"), ("Rc", "1.20M")]), "ok"),
        (format_sentence("0", 0, [("Dm", "102D"), ("Ta", "25.0K"), ("Rc", "1.50M")]), "ok"),
        (format_sentence("0", 0, [("Dm", "103D"), ("Ta", "26.0C"), ("Rc", "1.60M")]), "ok"),
    ]
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        running_driver(link, sink, mode="stream") as driver,
    ):
        assert wait_for(lambda: driver.state == "ok", 3), driver.state
        sim = WeatherStationSim(link.device_path, mode="stream", interval=3600)
        sim.silent = True  # only what this test sends
        with sim:
            sim.send_raw(b"\r\n")  # the driver syncs on the first line end
            states, infos = [], []
            for number, (data, _) in enumerate(steps, 1):
                sim.send_raw(data)
                assert wait_for(lambda n=number: driver.lines >= n, 3), (number, data)
                states.append(driver.state)
                infos.append(dict(driver.info))
    readings = sink.snapshot()
    # The bad-CRC line and the value with an unknown unit are decode errors; the next good
    # sentence sets the state back to ok.
    assert states == [
        "ok",
        "decode_error",
        "decode_error",
        "decode_error",
        "decode_error",
        "ok",
        "decode_error",
        "ok",
    ]
    assert driver.decode_errors == {"format": 2, "crc": 1, "address": 1, "value": 1}
    assert infos[5] == {"missing": ["Ta"]} and infos[7] == {}
    assert [r.fields for r in readings] == [
        {"wind_direction": 100.0, "temperature": 25.0},
        {"wind_direction": 101.0, "rain": 0.2},
        {"wind_direction": 102.0, "rain": 0.3},
        {"wind_direction": 103.0, "temperature": 26.0, "rain": 0.1},
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert any("unit 'K' is not one of C, F" in m for m in messages)
    assert any("does not match" in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)  # logged without a traceback


def test_echoed_query_is_not_taken_for_the_answer(tmp_path: Path) -> None:
    """RS-485 adapters with local echo hand the gateway its own query back before the answer."""
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        WeatherStationSim(link.device_path, seed=5, echo=True),
        running_driver(link, sink, crc="check") as driver,
    ):
        assert wait_for(lambda: len(sink.snapshot()) >= 2, 6)
        assert driver.state == "ok" and driver.errors == {}
    assert all("temperature" in r.fields for r in sink.snapshot())


def test_answer_corrupted_on_the_wire_is_a_crc_error(tmp_path: Path) -> None:
    sink = Collector()
    corrupt = {"next": False}

    def flip_a_digit(data: bytes) -> bytes:
        if corrupt["next"] and b"Ta=" in data:
            corrupt["next"] = False
            at = data.index(b"Ta=") + 3
            return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
        return data

    with (
        SerialLink(tmp_path / "ttyWX") as link,
        WeatherStationSim(link.device_path, seed=2) as sim,
        running_driver(link, sink, crc="check") as driver,
    ):
        link.to_gateway = flip_a_digit
        assert wait_for(lambda: len(sink.snapshot()) >= 1, 5)
        corrupt["next"] = True
        assert wait_for(lambda: driver.decode_errors.get("crc") == 1, 5), driver.decode_errors
        assert driver.state == "decode_error"
        assert wait_for(lambda: driver.state == "ok", 3)
    # Stopped: every answer became a reading but the corrupted one (and one in flight).
    assert len(sink.snapshot()) in (sim.sent - 1, sim.sent - 2)
    assert driver.decode_errors == {"crc": 1}


def test_silent_station_is_timeout_then_recovers(tmp_path: Path) -> None:
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        WeatherStationSim(link.device_path, seed=3) as sim,
        running_driver(link, sink, answer_timeout=0.5) as driver,
    ):
        assert wait_for(lambda: len(sink.snapshot()) >= 1, 5)
        sim.silent = True
        assert wait_for(lambda: driver.state == "timeout", 4), driver.state
        assert "no answer to 0R0 within 0.5 s" in (driver.last_error or "")
        before = len(sink.snapshot())
        sim.silent = False
        assert wait_for(lambda: driver.state == "ok", 4), driver.state
        assert wait_for(lambda: len(sink.snapshot()) > before, 3)
        assert driver.errors.get("timeout", 0) >= 1


def test_unplug_and_replug_loses_no_rain(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.device.wx1")
    truth_path = tmp_path / "truth.jsonl"
    truth = TruthWriter(truth_path)
    sink = Collector()
    with (
        SerialLink(tmp_path / "ttyWX") as link,
        WeatherStationSim(link.device_path, seed=9, storm=True, time_scale=900, truth=truth) as sim,
        running_driver(link, sink) as driver,
    ):
        assert wait_for(lambda: len(sink.snapshot()) >= 2, 6)
        link.unplug()
        assert wait_for(lambda: driver.state == "unplugged", 3), driver.state
        before = len(sink.snapshot())
        for _ in range(3):  # the station keeps measuring (and it keeps raining) meanwhile
            time.sleep(0.4)
            sim.send_message(crc=False)  # lost on the unplugged cable, like the real thing
        time.sleep(0.5)
        assert len(sink.snapshot()) == before
        link.replug()
        assert wait_for(lambda: driver.state == "ok", 3), driver.state
        assert wait_for(lambda: len(sink.snapshot()) >= before + 2, 6)
    truth.close()
    readings = sink.snapshot()
    matched = check_against_truth(readings, read_truth(truth_path))
    # The first reading after the outage carries the rain of the three sentences lost in it
    # (check_against_truth compared its rain with the accumulator growth across them).
    assert matched[before] - matched[before - 1] >= 4, matched
    assert readings[before].fields["rain"] > 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("ok (was unplugged)" in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)


def test_missing_port_is_unplugged_until_it_appears(tmp_path: Path) -> None:
    sink = Collector()
    with SerialLink(tmp_path / "ttyWX") as link:
        link.unplug()
        with running_driver(link, sink, mode="stream") as driver:
            assert wait_for(lambda: driver.state == "unplugged", 3), driver.state
            assert "No such file" in (driver.last_error or "")
            link.replug()
            assert wait_for(lambda: driver.state == "ok", 3), driver.state


def test_config_errors_name_key_value_and_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[gateway]\nid = "srl-pauh-01"\n\n'
        '[[devices]]\nid = "wx1"\ndriver = "weather_ascii"\n'
        'serial = { port = "/dev/ttyUSB1" }\n'
        'mode = "push"\ncrc = "yes"\naddress = "00"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_gateway_config(path)
    text = info.value.render()
    assert str(path) in text
    for needle in ("mode", "'push'", "crc", "'yes'", "address", "'00'"):
        assert needle in text, (needle, text)
    path.write_text(
        '[gateway]\nid = "srl-pauh-01"\n\n'
        '[[devices]]\nid = "wx1"\ndriver = "weather_ascii"\n'
        'serial = { port = "/dev/ttyUSB1" }\nmode = "stream"\ncrc = "check"\n'
    )
    [device] = load_gateway_config(path).devices
    assert isinstance(device, WeatherAsciiConfig)
    assert (device.mode, device.crc, device.address, device.rain_mode) == (
        "stream",
        "check",
        "0",
        "total",
    )
