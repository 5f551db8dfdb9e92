"""Register-map profiles: loading, validation errors that point, block planning, decoding."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.devices.modbus.profile import (
    MAX_BLOCK,
    PROFILE_DIR,
    RAW_RANGE,
    Profile,
    ProfileDecodeError,
    ProfileField,
    compile_profile,
    encode_raw,
    find_profile,
    load_profile,
    plan_blocks,
    raw_from_value,
)
from kernel.config import ConfigError
from telemetry.units import FIELDS
from testkit.profiles import HEADER, field, write

PROFILES = sorted(PROFILE_DIR.glob("*.toml"))


# -- the shipped profiles -----------------------------------------------------------------------


def test_there_are_profiles() -> None:
    """One profile per kind of roadside sensor, each publishing documented fields only."""
    expected = {
        "pm-th-generic": ("air_quality", {"pm25", "pm10", "temperature", "humidity"}),
        "th-generic": ("weather", {"temperature", "humidity"}),
        "rain-tipping-generic": ("weather", {"rain"}),
        "level-ultrasonic-generic": ("water_level", {"distance", "level"}),
        "road-surface-generic": ("road_surface", {"surface_temperature", "water_film"}),
    }
    assert set(expected) <= {p.stem for p in PROFILES}
    for name, (measurement, fields) in expected.items():
        profile = load_profile(name)
        published = {f.name for f in profile.fields if f.publish} | {
            d.name for d in profile.derived
        }
        assert (profile.measurement, published) == (measurement, fields), name
    for path in PROFILES:
        profile = load_profile(path.stem)
        for f in [*profile.fields, *profile.derived]:
            assert f.name in FIELDS or not getattr(f, "publish", True), f"{f.name}: undocumented"


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_every_profile_loads_and_compiles(path: Path) -> None:
    profile = load_profile(path.stem)
    assert profile.model == path.stem, "the model name is the file name"
    compiled = compile_profile(profile)
    assert compiled.blocks
    assert all(1 <= count <= MAX_BLOCK for _, count in compiled.blocks)
    covered = {a for start, count in compiled.blocks for a in range(start, start + count)}
    for f in profile.fields:
        assert set(f.registers) <= covered, f"{f.name} is not read"
        spec = FIELDS.get(f.name)
        assert spec is None or spec.unit == f.unit


def test_pm_th_generic() -> None:
    compiled = compile_profile(load_profile("pm-th-generic"))
    assert compiled.measurement == "air_quality"
    assert compiled.function_code == 3
    assert compiled.blocks == ((0, 4),)
    values = compiled.decode({0: 413, 1: 630, 2: 0xFFF6, 3: 785})
    assert values == {"pm25": 41.3, "pm10": 63.0, "temperature": -1.0, "humidity": 78.5}


def test_find_profile(tmp_path: Path) -> None:
    assert find_profile("pm-th-generic") == PROFILE_DIR / "pm-th-generic.toml"
    path = write(tmp_path, HEADER + field("rain", 0))
    assert find_profile(str(path)) == path
    assert load_profile(path).fields[0].name == "rain"
    with pytest.raises(ConfigError) as info:
        find_profile("no-such-sensor")
    assert "no-such-sensor" in str(info.value)
    assert "pm-th-generic" in str(info.value), "the error lists the known profiles"


# -- errors that point --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "value", "message"),
    [
        (field("rain", 0) + field("wind_speed", 1, "int64"), "fields[1].type", "'int64'", ""),
        (field("rain", 0, word_order="middle"), "fields[0].word_order", "'middle'", ""),
        (field("rain", 70000), "fields[0].address", "70000", "65535"),
        (field("rain", 0, scale=0), "fields[0].scale", "0", "must not be 0"),
        (field("rain", 0, colour="red"), "fields[0].colour", "'red'", "unknown key"),
        (field("Rain", 0), "fields[0].name", "'Rain'", "pattern"),
        (field("rain", 65535, "int32"), "fields[0].address", "65535", "past register 65535"),
        (field("rain", 0) + field("rain", 5), "fields[1].name", "'rain'", "fields[0]"),
        (
            field("rain", 0, "int32") + field("wind_speed", 1),
            "fields[1].address",
            "1",
            "register 1",
        ),
    ],
)
def test_broken_profile_names_file_key_and_value(
    tmp_path: Path, body: str, key: str, value: str, message: str
) -> None:
    path = write(tmp_path, HEADER + body)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    text = str(info.value)
    assert str(path) in text
    assert f"{path}: {key} = {value}: " in text
    assert message in text


def test_a_profile_cannot_write_a_pipeline_measurement(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "test"\nmeasurement = "gateway_batches"\n' + field("rain", 0))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert f"{path}: measurement = 'gateway_batches': " in str(info.value)
    assert "reserved: JagaJalan writes gateway_batches, gateway_status" in str(info.value)


def test_unit_must_match_the_protocol(tmp_path: Path) -> None:
    body = HEADER + field("temperature", 0, "int16").replace('"degC"', '"degF"')
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert "fields[0].unit = 'degF'" in str(info.value)
    assert "'degC' by the protocol" in str(info.value)


def test_profile_with_no_fields_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_profile(write(tmp_path, HEADER + "fields = []\n"))
    assert "fields = []" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_profile(write(tmp_path, HEADER + "[[fields]\n", "broken.toml"))
    assert "broken.toml" in str(info.value)
    assert "not valid TOML" in str(info.value)


# -- block planning -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spans", "max_gap", "blocks"),
    [
        ([(0, 1), (1, 1), (2, 1), (3, 1)], 10, [(0, 4)]),
        ([(3, 1), (0, 1), (2, 1), (1, 1)], 0, [(0, 4)]),  # order does not matter
        ([(0, 1), (5, 2)], 10, [(0, 7)]),  # a gap of 4 unused registers is read through
        ([(0, 1), (5, 2)], 3, [(0, 1), (5, 2)]),  # ...unless the gap is larger than allowed
        ([(0, 1), (1, 1), (100, 2)], 0, [(0, 2), (100, 2)]),
        ([(0, 2), (124, 2)], 200, [(0, 2), (124, 2)]),  # 126 registers: over the limit
        ([(0, 2), (123, 2)], 200, [(0, 125)]),
        ([(i, 1) for i in range(300)], 0, [(0, 125), (125, 125), (250, 50)]),
        ([(0, 2), (0, 2)], 0, [(0, 2)]),
    ],
)
def test_plan_blocks(spans: list[tuple[int, int]], max_gap: int, blocks: list) -> None:
    assert plan_blocks(spans, max_gap) == blocks


@given(
    st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([1, 2])), min_size=1),
    st.integers(0, 30),
)
def test_plan_blocks_covers_every_span_within_limits(
    spans: list[tuple[int, int]], max_gap: int
) -> None:
    blocks = plan_blocks(spans, max_gap)
    for start, count in spans:  # every span lies whole inside exactly one block
        inside = [b for b in blocks if b[0] <= start and start + count <= b[0] + b[1]]
        assert len(inside) == 1
    assert all(1 <= count <= MAX_BLOCK for _, count in blocks)
    assert all(a[0] + a[1] <= b[0] for a, b in itertools.pairwise(blocks))


def test_compiled_blocks_follow_max_gap(tmp_path: Path) -> None:
    body = field("rain", 0) + field("wind_speed", 8, "float32") + field("pressure", 40)
    compiled = compile_profile(load_profile(write(tmp_path, HEADER + body)))
    assert compiled.blocks == ((0, 10), (40, 1))
    tight = compile_profile(load_profile(write(tmp_path, HEADER + "max_gap = 0\n" + body)))
    assert tight.blocks == ((0, 1), (8, 2), (40, 1))
    regs = tight.registers_of([[7], [0x41EB, 0x3333], [65535]])
    assert regs == {0: 7, 8: 0x41EB, 9: 0x3333, 40: 65535}
    with pytest.raises(ProfileDecodeError):
        tight.registers_of([[7], [1]])


# -- decoding -----------------------------------------------------------------------------------


def one(type_: str, word_order: str = "big", scale: float = 1.0, offset: float = 0.0):
    f = ProfileField(
        name="v",
        address=10,
        type=type_,
        word_order=word_order,
        scale=scale,
        offset=offset,
        unit="x",
    )
    profile = Profile(model="t", measurement="m", fields=[f])
    return f, compile_profile(profile)


@pytest.mark.parametrize(
    ("type_", "word_order", "registers", "value"),
    [
        ("int16", "big", [0xFFFF], -1.0),
        ("uint16", "big", [0xFFFF], 65535.0),
        ("int16", "little", [0x8000], -32768.0),  # word order means nothing for 16 bits
        ("int32", "big", [0xFFFF, 0xFFFE], -2.0),
        ("int32", "little", [0xFFFE, 0xFFFF], -2.0),
        ("int32", "big", [0x0001, 0x0000], 65536.0),
        ("int32", "little", [0x0001, 0x0000], 1.0),
        ("uint32", "big", [0xFFFF, 0xFFFE], 4294967294.0),
        ("uint32", "little", [0xFFFE, 0xFFFF], 4294967294.0),
        ("uint32", "big", [0x0001, 0x0002], 65538.0),
        ("uint32", "little", [0x0001, 0x0002], 131073.0),
        ("float32", "big", [0x41EB, 0x3333], 29.4),
        ("float32", "little", [0x3333, 0x41EB], 29.4),
        ("float32", "big", [0xC2C8, 0x0000], -100.0),
    ],
)
def test_word_orders(type_: str, word_order: str, registers: list[int], value: float) -> None:
    _, compiled = one(type_, word_order)
    regs = dict(zip(range(10, 10 + len(registers)), registers, strict=True))
    assert compiled.decode(regs) == {"v": value}


def test_scale_offset_and_rounding() -> None:
    _, compiled = one("uint16", scale=0.1)
    assert compiled.decode({10: 413}) == {"v": 41.3}  # not 41.300000000000004
    _, compiled = one("int16", scale=0.01, offset=-40)
    assert compiled.decode({10: 6543}) == {"v": 25.43}
    _, compiled = one("uint32", "little", scale=0.001)
    assert compiled.decode({10: 0x86A0, 11: 0x0001}) == {"v": 100.0}  # 100000 raw


def test_missing_or_bad_registers_are_decode_errors() -> None:
    _, compiled = one("int32")
    with pytest.raises(ProfileDecodeError, match="register 11"):
        compiled.decode({10: 1})
    with pytest.raises(ProfileDecodeError, match="70000"):
        compiled.decode({10: 1, 11: 70000})


def test_float32_nan_decodes_to_nan() -> None:
    _, compiled = one("float32")
    value = compiled.decode({10: 0x7FC0, 11: 0})["v"]
    assert value != value


types = st.sampled_from(["int16", "uint16", "int32", "uint32"])


@given(types, st.sampled_from(["big", "little"]), st.data())
def test_encode_is_the_inverse_of_decode(type_: str, word_order: str, data: st.DataObject) -> None:
    lo, hi = RAW_RANGE[type_]
    raw = data.draw(st.integers(lo, hi))
    scale = data.draw(st.sampled_from([1.0, 0.1, 0.01, 2.5]))
    f, compiled = one(type_, word_order, scale=scale, offset=-3.0)
    words = encode_raw(f, raw)
    assert all(0 <= w <= 0xFFFF for w in words)
    assert compiled.decode(dict(zip(f.registers, words, strict=True))) == {
        "v": round(raw * scale - 3.0, 6)
    }
    physical = raw * scale - 3.0
    assert raw_from_value(f, physical) == raw


@given(
    st.floats(width=32, allow_nan=False, allow_infinity=False), st.sampled_from(["big", "little"])
)
def test_float32_encode_round_trip(raw: float, word_order: str) -> None:
    f, compiled = one("float32", word_order)
    words = encode_raw(f, raw)
    got = compiled.decode(dict(zip(f.registers, words, strict=True)))["v"]
    assert got == round(struct.unpack(">f", struct.pack(">f", raw))[0], 6)


def test_encode_refuses_values_outside_the_type() -> None:
    f, _ = one("int16")
    with pytest.raises(ValueError, match="int16"):
        encode_raw(f, 40000)
    assert raw_from_value(f, 1e9) == 32767  # clamped


def test_compile_refuses_clashes_in_a_profile_built_in_code() -> None:
    fields = [
        ProfileField(name="a", address=0, type="int32", unit="x"),
        ProfileField(name="b", address=1, unit="x"),
    ]
    with pytest.raises(ValueError, match=r"fields\[1\]\.address = 1: register 1"):
        compile_profile(Profile(model="t", measurement="m", fields=fields))
