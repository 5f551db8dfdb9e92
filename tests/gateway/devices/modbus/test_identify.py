"""Recognising a sensor model from its profile (the pure helpers `gateway scan` uses), checked
against the emulated registers of every shipped profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.devices.modbus.identify import identify, identify_match, identify_requests
from gateway.devices.modbus.profile import PROFILE_DIR, compile_profile, load_profile
from simulators.devices.modbus import RegisterPattern
from testkit.profiles import HEADER, field, write

SHIPPED = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


# -- identification -----------------------------------------------------------------------------


def emulated_reader(name: str, seed: int = 1) -> Any:
    compiled = compile_profile(load_profile(name))
    registers = RegisterPattern(name, seed, params={"reference": 250.0}).registers(5)

    def read(function: int, address: int, count: int) -> list[int]:
        if function != compiled.function_code and compiled.profile.identify is None:
            raise RuntimeError("exception 1 (illegal function)")
        values = [registers.get(a) for a in range(address, address + count)]
        if None in values:
            raise RuntimeError("exception 2 (illegal data address)")
        return values  # type: ignore[return-value]

    return read


@pytest.mark.parametrize("name", SHIPPED)
def test_each_emulated_model_is_identified_as_itself(name: str) -> None:
    compiled = compile_profile(load_profile(name))
    result = identify(compiled, emulated_reader(name))
    assert result, result.detail
    assert result.model == name
    assert result.method == ("register" if compiled.profile.identify else "ranges")


def test_identification_tells_models_apart() -> None:
    rain = compile_profile(load_profile("rain-tipping-generic"))
    level = compile_profile(load_profile("level-ultrasonic-generic"))
    verdict = identify(rain, emulated_reader("level-ultrasonic-generic"))
    assert not verdict
    assert "0x554c" in verdict.detail and "0x5247" in verdict.detail
    assert not identify(level, emulated_reader("rain-tipping-generic"))
    pm = compile_profile(load_profile("pm-th-generic"))
    assert not identify(pm, emulated_reader("road-surface-generic")), "no pm registers there"
    out_of_range = identify_match(pm, {(3, 0, 4): [65535, 630, 294, 785]})
    assert not out_of_range and "pm25 = 6553.5 outside" in out_of_range.detail


def test_identification_with_failed_or_missing_reads() -> None:
    rain = compile_profile(load_profile("rain-tipping-generic"))
    assert identify_requests(rain) == [(3, 256, 1)]

    def timeout(function: int, address: int, count: int) -> list[int]:
        raise TimeoutError("no answer within 0.5 s")

    verdict = identify(rain, timeout)
    assert not verdict and "no answer within 0.5 s" in verdict.detail
    assert not identify_match(rain, {})
    assert identify_match(rain, {(3, 256, 1): [0x5247]})
    masked = rain.profile.model_copy(
        update={
            "identify": rain.profile.identify.model_copy(update={"mask": 0xFF00, "value": 0x5200})
        }  # type: ignore[union-attr]
    )
    assert identify_match(compile_profile(masked), {(3, 256, 1): [0x52FF]})


def test_a_profile_without_identify_or_ranges_cannot_be_identified(tmp_path: Path) -> None:
    compiled = compile_profile(load_profile(write(tmp_path, HEADER + field("pressure", 0))))
    assert identify_requests(compiled) == []
    verdict = identify(compiled, lambda *a: [0])
    assert not verdict and verdict.method == "none"
