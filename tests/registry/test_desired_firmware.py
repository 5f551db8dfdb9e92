"""Desired sensor node firmware per sensor profile (registry/desired.py, `jagajalan registry
firmware`) on SQLite and PostgreSQL: set through the command, read with the registered sensors
of the profile; a version that is no version, and a profile no sensor has, are refused with
words that name the problem; clear removes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jagajalan.cli import main
from registry.desired import desired_firmware
from tests.registry.conftest import Database
from tests.registry.test_cli import SMALL, write

SECOND = """
[[sensors]]
gateway = "srl-pasar-01"
id = "wl2"
device = "modbus"
profile = "level-ultrasonic-generic"

[[sensors]]
gateway = "srl-pasar-01"
id = "env1"
device = "modbus"
profile = "air-quality-generic"
"""


def test_firmware_per_profile_through_the_command(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = database.options
    assert main(["registry", "upgrade", *opts]) == 0
    assert main(["registry", "import", str(write(tmp_path, SMALL + SECOND)), *opts]) == 0
    capsys.readouterr()
    firmware = ["registry", "firmware"]
    assert main([*firmware, "set", "level-ultrasonic-generic", "WL-2.08", *opts]) == 0
    assert "WL-2.08 (2 sensor terdaftar)" in capsys.readouterr().out
    assert main([*firmware, "set", "level-ultrasonic-generic", "WL-2.09", *opts]) == 0
    wanted, nodes = desired_firmware(database.engine)
    assert [(w.profile, w.version) for w in wanted] == [("level-ultrasonic-generic", "WL-2.09")]
    assert wanted[0].set_at.tzinfo is not None
    assert [(n.gateway, n.sensor, n.version) for n in nodes] == [
        ("srl-pasar-01", "wl1", "WL-2.09"),
        ("srl-pasar-01", "wl2", "WL-2.09"),
    ]
    capsys.readouterr()
    assert main([*firmware, "list", *opts, "--lang", "en"]) == 0
    listed = capsys.readouterr().out
    assert "level-ultrasonic-generic" in listed and "WL-2.09" in listed
    # Refused, nothing written: no version; a profile no registered sensor has.
    assert main([*firmware, "set", "air-quality-generic", "v 1/2", *opts]) == 2
    assert "Versi v 1/2 tidak sah" in capsys.readouterr().err
    assert main([*firmware, "set", "level-ultrasonik", "WL-1", *opts, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "No registered sensor has the profile level-ultrasonik" in err
    assert "air-quality-generic, level-ultrasonic-generic" in err
    assert len(desired_firmware(database.engine)[0]) == 1
    assert main([*firmware, "clear", "level-ultrasonic-generic", *opts]) == 0
    assert desired_firmware(database.engine) == ([], [])
    assert main([*firmware, "clear", "level-ultrasonic-generic", *opts]) == 0
    assert "tidak ada yang diubah" in capsys.readouterr().out
