"""The profiles' [settings]: validated by the gateway's profile loader and read alike by the
firmware tools and the emulator (one schema, telemetry/node_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.node.profile import PROFILE_DIR, load_node_profile
from gateway.devices.modbus.profile import load_profile
from kernel.config import ConfigError
from kernel.text import TextError
from simulators.devices.node_settings import load_node_settings

BASE = (PROFILE_DIR / "th-generic.toml").read_text()


@pytest.mark.parametrize("path", sorted(PROFILE_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_profile_reads_the_same_in_the_gateway_and_the_tools(path: Path) -> None:
    gateway = load_profile(path).settings
    if not gateway:
        with pytest.raises(TextError, match="no settings section"):
            load_node_profile(str(path))
        return
    assert load_node_profile(str(path)).settings == gateway
    assert set(load_node_settings(path, 1).settings) == set(gateway)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("[settings.a]\naddress = 257\nrange = [0, 5]\n", "settings.a", "also unit_address"),
        ("[settings.b]\naddress = 300\n", "settings.b", "exactly one of range"),
        ("[settings.c]\naddress = 301\nrange = [0, 5]\ndefault = 9\n", "settings", "outside"),
        (
            "[settings.d]\naddress = 302\nrange = [1, 300]\nrole = 'unit_address'\n",
            "settings",
            "unit_address",
        ),
        ("[settings.e]\naddress = 303\nrange = [0, 70000]\n", "settings", "does not fit"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    tmp_path: Path, extra: str, key: str, words: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BASE + "\n" + extra)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    shown = info.value.render()
    assert key in shown and words in shown and str(path) in shown
    with pytest.raises(TextError, match=words):
        load_node_profile(str(path))
