"""``jagajalan firmware node get|set`` against an emulated Modbus node: a real pymodbus RTU
server (simulators/devices/modbus.py) on a pseudo-terminal, whose settings registers come
from the profile's [settings]."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jagajalan.cli import main
from simulators.devices.modbus import ModbusBusSim, SimSpec
from simulators.devices.serial_link import SerialLink


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[tuple[str, ModbusBusSim]]:
    with (
        SerialLink(tmp_path / "ttyNODE") as link,
        ModbusBusSim(
            link.device_path,
            [SimSpec(1, "th-generic"), SimSpec(7, "pm-th-generic", seed=3)],
            update_interval=3600,
        ) as sim,
    ):
        yield str(link.path), sim


def node(port: str, action: str, *args: str, unit: int = 1, profile: str = "th-generic"):
    return main(
        [
            "firmware",
            "node",
            action,
            "--port",
            port,
            "--unit",
            str(unit),
            "--profile",
            profile,
            "--timeout",
            "0.5",
            *args,
        ]
    )


def test_get_reads_the_factory_settings(bus, capsys) -> None:
    port, _ = bus
    assert node(port, "get", "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert got["settings"] == {
        "unit_address": "1",
        "baud_rate": "9600",
        "temperature_offset": "0",
        "humidity_offset": "0",
    }
    assert node(port, "get", "--lang", "en", unit=7, profile="pm-th-generic") == 0
    out = capsys.readouterr().out
    assert "sampling_interval" in out and "Settings of the pm-th-generic sensor" in out


def test_set_changes_reads_back_and_a_new_unit_address_takes_effect(bus, capsys) -> None:
    port, sim = bus
    assert node(port, "set", "temperature_offset=-1.5", "unit_address=12", "baud_rate=19200") == 0
    out = capsys.readouterr().out
    assert "alamat 12" in out and "dinyalakan ulang" in out
    assert sim.address_of(1) == 12
    assert sim.setting(1, "temperature_offset") == -15  # raw, tenths
    assert sim.setting(1, "baud_rate") == 2
    assert node(port, "get", "--json") == 1  # nobody at 1 any more
    capsys.readouterr()
    assert node(port, "get", "--json", unit=12) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["temperature_offset"] == "-1.5"
    assert node(port, "get", "--json", unit=7, profile="pm-th-generic") == 0  # neighbour intact


@pytest.mark.parametrize(
    ("assignment", "words"),
    [
        ("temperature_offset=10.5", "di luar batas -10 sampai 10"),
        ("unit_address=0", "di luar batas 1 sampai 247"),
        ("baud_rate=115200", "pilihan: 9600, 14400, 19200"),
        ("temperature_offset=0.05", "bukan kelipatan"),
        ("humidity_offset=abc", "bukan angka"),
        ("colour=red", "tidak punya pengaturan colour"),
    ],
)
def test_a_bad_value_is_refused_before_anything_is_written(
    bus, capsys, assignment: str, words: str
) -> None:
    port, sim = bus
    requests = sim.units[1].requests
    assert node(port, "set", "humidity_offset=2.0", assignment) == 2
    assert words in capsys.readouterr().err
    assert sim.units[1].requests == requests  # not even read: nothing sent at all
    assert sim.setting(1, "humidity_offset") == 0


def test_the_node_refuses_an_address_in_use_and_nothing_changes(bus, capsys) -> None:
    port, sim = bus
    assert node(port, "set", "unit_address=7", "--lang", "en") == 1
    assert "refused the write of unit_address" in capsys.readouterr().err
    assert sim.address_of(1) == 1 and sim.address_of(7) == 7


def test_a_silent_node_is_reported_not_crashed(bus, capsys) -> None:
    port, sim = bus
    sim.set_silent(1)
    assert node(port, "set", "humidity_offset=1") == 1
    assert "tidak menjawab" in capsys.readouterr().err
