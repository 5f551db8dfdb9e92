"""The technician's message catalogue: both languages for every key, the same arguments in
both, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.tools.doctor.devices import FAILURES
from kernel.text import (
    CATALOGUE,
    LANGS,
    MESSAGES_DIR,
    Joined,
    T,
    duration,
    load_catalogue,
    placeholders,
    size,
    tr,
)
from testkit import REPO

#: Every module that shows catalogue text to people.
USERS = [
    *sorted((REPO / "gateway" / "tools").rglob("*.py")),
    REPO / "gateway" / "cli.py",
    REPO / "simulators" / "commands.py",
    REPO / "simulators" / "cli.py",
    REPO / "gateway" / "config.py",
    REPO / "gateway" / "crosscheck.py",
    REPO / "kernel" / "config.py",
    REPO / "kernel" / "fields.py",
    *sorted((REPO / "gateway" / "devices").rglob("*.py")),
    *sorted((REPO / "jagajalan").glob("demo*.py")),
]
#: Modules whose ("code", {...}) tuples are device problems (gateway.devices.base.Problem).
PROBLEM_MAKERS = {
    REPO / "gateway" / "devices" / "base.py",
    REPO / "gateway" / "devices" / "modbus" / "bus.py",
    REPO / "gateway" / "devices" / "modbus" / "driver.py",
    REPO / "gateway" / "devices" / "traffic_counter" / "driver.py",
    REPO / "gateway" / "devices" / "weather_ascii" / "driver.py",
    REPO / "gateway" / "devices" / "nmea_gps" / "driver.py",
}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_key_in_both_languages_with_the_same_arguments(key: str) -> None:
    texts = CATALOGUE[key]
    assert len(texts) == len(LANGS)
    indonesian, english = texts
    assert indonesian.strip() and english.strip()
    assert placeholders(indonesian) == placeholders(english), key


def test_every_key_used_in_the_code_exists() -> None:
    assert USERS, "no doctor/scan modules found"
    used: set[str] = set()
    for path in USERS:
        text = path.read_text()
        used |= set(
            re.findall(r"""\b(?:T|tr|Text|Said)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""", text)
        )
        # f-string keys: device.{state} and device.{state}.remedy for every failure state
        if 'T(f"device.{' in text:
            used |= {f"device.{s}" for s in FAILURES} | {f"device.{s}.remedy" for s in FAILURES}
        if 'f"status.{' in text:
            used |= {f"status.{s}" for s in ("pass", "warn", "fail", "skip")}
        if 'f"name.{check}"' in text:
            used |= {"name.auth", "name.publish"}
        if 'tr(f"simulate.col.{col}"' in text:
            cols = ("site", "signal", "level", "way", "expected", "happened", "delta", "result")
            used |= {f"simulate.col.{c}" for c in cols}
            used |= {f"simulate.list.{c}" for c in ("name", "duration", "speed", "description")}
            used |= {"simulate.up", "simulate.down"}
        # keys built in code from a prefix: the catalogue has keys under that prefix
        for prefix in re.findall(r"""\b(?:T|tr|TextError)\(\s*f["']([a-z0-9_.]+)\.\{""", text):
            assert any(k.startswith(prefix + ".") for k in CATALOGUE), (path, prefix)
        used |= set(re.findall(r"""\bTextError\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""", text))
        # device problems: ("code", {...}) -> problem.<code>
        if path in PROBLEM_MAKERS:
            codes = re.findall(r"""\(\s*["']([a-z_]+)["'],\s*\{""", text)
            used |= {f"problem.{c}" for c in codes}
    missing = sorted(k for k in used if k not in CATALOGUE)
    assert not missing
    assert len(used) > 100  # the scan of the sources really found the keys


def test_rendering_in_both_languages() -> None:
    assert tr("serial.missing", port="/dev/ttyUSB0") == "Port serial /dev/ttyUSB0 tidak ditemukan"
    assert tr("serial.missing", "en", port="/dev/ttyUSB0") == "Serial port /dev/ttyUSB0 not found"
    nested = T("spool.backlog", age=duration(3 * 3600 + 300))
    assert (
        nested.render("id")
        == "Data tertua sudah menunggu 3 jam 5 menit: gateway belum bisa mengirim"
    )
    assert nested.render("en").startswith("The oldest reading has waited 3 h 5 min")
    both = Joined((T("dur.seconds", n=5), T("dur.days", d=2, h=1)))
    assert both.render("id") == "5 detik, 2 hari 1 jam"
    assert both.render("en") == "5 s, 2 d 1 h"
    # a message argument may itself be called "key" (config problems name their key)
    assert "gateway.colour" in T("config.problem.remedy", key="gateway.colour", file="f").render()


def test_sizes() -> None:
    assert size(512) == "512 B"
    assert size(37_400_000) == "37 MB"
    assert size(1_400_000_000) == "1.4 GB"


def test_the_catalogue_is_data_with_pointed_errors(tmp_path: Path) -> None:
    """Messages live in kernel/messages/*.toml; a key defined twice or a message without both
    languages is refused, naming the file and the key."""
    (tmp_path / "a.toml").write_text('["x.one"]\nid = "satu"\nen = "one"\n')
    assert load_catalogue(tmp_path) == {"x.one": ("satu", "one")}
    (tmp_path / "b.toml").write_text('["x.one"]\nid = "satu"\nen = "one"\n')
    with pytest.raises(ValueError, match=r"b.toml: message key 'x.one' is already in a.toml"):
        load_catalogue(tmp_path)
    (tmp_path / "b.toml").write_text('["x.two"]\nid = "dua"\n')
    with pytest.raises(ValueError, match=r"b.toml: message 'x.two' needs exactly \['id', 'en'\]"):
        load_catalogue(tmp_path)
    assert {p.name for p in MESSAGES_DIR.glob("*.toml")} >= {"doctor.toml", "scan.toml"}


def test_every_modbus_frame_error_has_a_problem_text() -> None:
    """The Modbus driver reports a refused frame as problem ``frame_<reason>``."""
    from typing import get_args

    from gateway.devices.modbus.frames import FrameErrorReason

    for reason in get_args(FrameErrorReason):
        assert f"problem.frame_{reason}" in CATALOGUE, reason
