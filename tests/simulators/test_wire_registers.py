"""The Modbus emulator's own register encoding (simulators/devices/wire/registers.py) and
register-map reader (simulators/devices/register_maps.py): encodings of known values per data
type and word order, then the gateway's real profile loader and decoder reading what the
emulator writes and publishing the emulator's truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.modbus.decoder import DeviceDecoder
from gateway.devices.modbus.profile import PROFILE_DIR, compile_profile, load_profile
from simulators.devices.modbus_patterns import RegisterPattern
from simulators.devices.register_maps import (
    RegisterMapError,
    evaluate,
    load_register_map,
    register_map,
)
from simulators.devices.wire.registers import RegisterField, spans, words
from testkit import REPO
from testkit.profiles import HEADER, field, write

SHIPPED = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
CASES = REPO / "gateway" / "devices" / "modbus" / "cases"
PARAMS = {"level-ultrasonic-generic": {"reference": 250.0}}

# -- known answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "order", "raw", "expected"),
    [
        # the response frames of gateway/devices/modbus/cases/ (their comments say the value)
        ("uint16", "big", 1834, [0x072A]),  # level-from-reference: 1834 mm
        ("int16", "big", -53, [0xFFCB]),  # negative-temperature: -5.3 degC
        ("uint16", "big", 350, [0x015E]),  # road-surface-hot-and-wet: 350 um
        ("float32", "big", 47.25, [0x423D, 0x0000]),  # road-surface-hot-and-wet
        ("float32", "little", 1009.25, [0x5000, 0x447C]),  # float32-input-little-endian
        ("uint32", "little", 0xFFFF_FFF0, [0xFFF0, 0xFFFF]),  # rain-rollover-32bit
        ("uint32", "little", 5, [0x0005, 0x0000]),
        # IEEE 754 single precision and two's complement, worked by hand
        ("float32", "big", 1.0, [0x3F80, 0x0000]),
        ("float32", "big", -2.5, [0xC020, 0x0000]),
        ("float32", "little", 0.15625, [0x0000, 0x3E20]),
        ("uint32", "big", 123_456_789, [0x075B, 0xCD15]),
        ("uint32", "little", 123_456_789, [0xCD15, 0x075B]),
        ("int32", "big", -2, [0xFFFF, 0xFFFE]),
        ("int32", "little", -2_147_483_648, [0x0000, 0x8000]),
        ("int32", "big", 65_536, [0x0001, 0x0000]),
        ("int16", "big", -32_768, [0x8000]),
        ("uint16", "big", 65_535, [0xFFFF]),
    ],
)
def test_known_encodings(type_: str, order: str, raw: float, expected: list[int]) -> None:
    assert words(type_, raw, order) == expected


def test_integers_out_of_their_type_are_refused() -> None:
    for type_, raw in [("int16", 32_768), ("uint16", -1), ("uint32", 2**32), ("int16", 1.5)]:
        with pytest.raises(ValueError):
            words(type_, raw)


def test_values_become_the_nearest_raw_value() -> None:
    temperature = RegisterField("temperature", 2, "int16", scale=0.1)
    assert temperature.raw(-5.3) == -53
    assert temperature.raw(1e9) == 32_767  # clamped to the type
    assert temperature.carried(-53) == -5.3
    offset = RegisterField("temperature", 0, "uint16", scale=0.01, offset=-40.0)
    assert offset.raw(21.5) == 6150 and offset.carried(6150) == 21.5
    assert RegisterField("x", 0, "uint16").raw(-3) == 0
    assert RegisterField("x", 0, "float32").raw(0.1) == 0.10000000149011612  # single precision
    assert RegisterField("x", 0, "float32").raw(1e39) == 3.4028234663852886e38
    tips = RegisterField("rain", 0, "uint16", scale=0.2, counter=True)
    assert tips.raw(65_537) == 1 and tips.modulus == 65_536
    assert RegisterField("rain", 0, "uint32", counter=True, rollover=10_000).raw(10_003) == 3


def test_spans_join_fields_up_to_max_gap() -> None:
    fields = [RegisterField("a", 0), RegisterField("b", 5, "uint32"), RegisterField("c", 20)]
    assert spans(fields, 10) == [(0, 7), (20, 1)]
    assert spans(fields, 3) == [(0, 1), (5, 2), (20, 1)]
    assert spans(fields, 13, extra=[256]) == [(0, 21), (256, 1)]


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("reference - distance", 66.6),
        ("-(distance + 1) / 4", -46.1),
        ("max(distance, 2 * reference) - min(1, 2, 3)", 499.0),
        ("abs(distance - reference) * 1e-1", 6.66),
        ("+ reference - - 1.5", 251.5),
        (".5 * 4", 2.0),
    ],
)
def test_derived_expressions(expression: str, value: float) -> None:
    assert evaluate(expression, {"reference": 250.0, "distance": 183.4}) == pytest.approx(value)


def test_bad_derived_expressions() -> None:
    with pytest.raises(KeyError):
        evaluate("reference - depth", {"reference": 1.0})
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / (a - a)", {"a": 2.0})
    for text in ("1 +", "pow(2, 3)", "a ** 2", "(a", "a b"):
        with pytest.raises(ValueError):
            evaluate(text, {"a": 2.0})


def test_profile_problems_name_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + field("pm25", 0, "uint24"))
    with pytest.raises(RegisterMapError, match=r"sensor\.toml: fields\[0\]\.type = 'uint24'"):
        load_register_map(path)
    path = write(tmp_path, HEADER + "[[fields]]\nname = 'pm25'\n", "b.toml")
    with pytest.raises(RegisterMapError, match=r"b\.toml: fields\[0\]\.address: missing"):
        load_register_map(path)
    path = write(tmp_path, HEADER + field("rain", 0, kind="tips"), "d.toml")
    with pytest.raises(RegisterMapError, match=r"d\.toml: fields\[0\]\.kind = 'tips'"):
        load_register_map(path)
    path = write(tmp_path, HEADER + field("rain", 0, scale="0.2"), "e.toml")
    with pytest.raises(RegisterMapError, match=r"fields\[0\]\.scale = '0.2': not int or float"):
        load_register_map(path)
    bad = HEADER + field("distance", 0) + '[[derived]]\nname = "level"\nexpression = "2 **"\n'
    with pytest.raises(RegisterMapError, match=r"c\.toml: derived\[0\]\.expression: '2 \*\*'"):
        load_register_map(write(tmp_path, bad, "c.toml"))
    with pytest.raises(RegisterMapError, match="cannot read"):
        load_register_map(tmp_path / "absent.toml")


# -- the gateway reads what the emulator writes ---------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_the_emulator_reads_the_profiles_as_the_gateway_does(name: str) -> None:
    ours, theirs = load_register_map(name), load_profile(name)
    assert ours.max_gap == theirs.max_gap and ours.function == theirs.function
    for mine, gateway in zip(ours.fields, theirs.fields, strict=True):
        layout = ("name", "address", "type", "word_order", "scale", "offset", "publish", "modulus")
        assert {k: getattr(mine, k) for k in layout} == {k: getattr(gateway, k) for k in layout}
        assert mine.counter == (gateway.kind == "counter")
        assert mine.range == (tuple(gateway.range) if gateway.range else None)
    assert [(d.name, d.expression) for d in ours.derived] == [
        (d.name, d.expression) for d in theirs.derived
    ]
    ident = theirs.identify
    assert ours.identify == ((ident.address, ident.value) if ident else None)
    # the emulator answers every block the gateway reads
    answered = {a for start, n in ours.spans for a in range(start, start + n)}
    planned = compile_profile(theirs).blocks
    assert all(a in answered for start, n in planned for a in range(start, start + n))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_gateway_publishes_the_emulators_truth(name: str) -> None:
    """Two simulated days of every shipped profile: the gateway's decoder, given the
    emulator's registers, publishes exactly the fields the emulator meant (counters: the raw
    count it meant; their increases are the decoder's own business)."""
    params = PARAMS.get(name, {})
    ours = load_register_map(name)
    pattern = RegisterPattern(ours, seed=2, step_seconds=600, params=params)
    compiled = compile_profile(load_profile(name))
    for step in range(288):
        sent = ours.encode(pattern.values(step))
        decoded = DeviceDecoder(compiled, params).decode(sent.registers)  # a first poll
        fields, refused = ours.published(sent.carried, params)
        assert decoded.fields == fields, step
        assert decoded.counters == sent.counters
        assert not refused and not decoded.problems


def test_out_of_range_values_are_refused_by_both_sides() -> None:
    ours = load_register_map("pm-th-generic")
    sent = ours.encode({"pm25": 1500.0, "pm10": 40.0, "temperature": -5.3, "humidity": 55.0})
    fields, refused = ours.published(sent.carried)
    assert fields == {"pm10": 40.0, "temperature": -5.3, "humidity": 55.0}
    assert refused == {"pm25": 1500.0}
    decoded = DeviceDecoder(compile_profile(load_profile("pm-th-generic"))).decode(sent.registers)
    assert decoded.fields == fields and set(decoded.problems) == {"pm25"}
    level = load_register_map("level-ultrasonic-generic")
    sent = level.encode({"distance": 10.0})  # inside the blind zone: no distance, no level
    assert level.published(sent.carried, {"reference": 250.0}) == ({}, {"distance": 10.0})


@pytest.mark.parametrize("case", ["float32-input-little-endian", "rain-rollover-32bit"])
def test_case_local_profiles(case: str) -> None:
    """The golden cases' own profiles (a little-endian float32, a 32-bit counter) read alike
    by both sides, and the gateway decodes the emulator's registers to the values carried."""
    path = CASES / case / "profile.toml"
    ours, compiled = load_register_map(path), compile_profile(load_profile(path))
    pattern = RegisterPattern(ours, seed=5, step_seconds=3600)
    for step in range(48):
        sent = ours.encode(pattern.values(step))
        raw = compiled.decode(sent.registers)
        assert {k: v for k, v in raw.items() if k in sent.carried} == sent.carried
        assert {k: int(v) for k, v in raw.items() if k in sent.counters} == sent.counters


TYPES = ["int16", "uint16", "int32", "uint32", "float32"]


@given(
    st.sampled_from(TYPES),
    st.sampled_from(["big", "little"]),
    st.sampled_from([1.0, 0.1, 0.01, 0.2, 0.001, -0.5]),
    st.sampled_from([0.0, -40.0, 273.15]),
    st.floats(-1e5, 1e5, allow_nan=False),
)
def test_any_type_and_word_order_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    type_: str,
    order: str,
    scale: float,
    offset: float,
    value: float,
) -> None:
    text = HEADER + field("temperature", 3, type_, word_order=order, scale=scale, offset=offset)
    path = write(tmp_path_factory.mktemp("p"), text)
    ours, compiled = load_register_map(path), compile_profile(load_profile(path))
    sent = ours.encode({"temperature": value})
    assert compiled.decode(sent.registers) == sent.carried
    if type_ == "float32":  # within float32's resolution at the raw value
        raw = (value - offset) / scale
        assert abs(sent.carried["temperature"] - value) <= abs(raw * scale) * 2**-23 + 1e-6


def test_a_parsed_profile_needs_fields() -> None:
    with pytest.raises(RegisterMapError, match="at least one field"):
        register_map({"model": "empty"})
