"""Profile features beyond plain registers: safe expressions, counters, ranges, device params,
derived fields, model identification, and the config checks across devices of one bus."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.devices.base import SerialPort
from gateway.devices.modbus.decoder import DeviceDecoder, ParamError, counter_increase
from gateway.devices.modbus.driver import ModbusConfig, ModbusDriver
from gateway.devices.modbus.expr import ExpressionError, parse_expression
from gateway.devices.modbus.identify import identify_requests
from gateway.devices.modbus.profile import PROFILE_DIR, compile_profile, load_profile
from kernel.config import ConfigError, validate
from simulators.devices.modbus import RegisterPattern
from testkit.profiles import HEADER, field, write

SHIPPED = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))

# -- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "value"),
    [
        ("reference - distance", {"reference": 250.0, "distance": 183.4}, 66.6),
        ("-(a) + +b * 2", {"a": 1.0, "b": 3.0}, 5.0),
        ("(a + b) / 2", {"a": 1.0, "b": 2.0}, 1.5),
        ("max(0, reference - distance)", {"reference": 100.0, "distance": 101.0}, 0.0),
        ("min(a, b, 3)", {"a": 7.0, "b": 4.0}, 3.0),
        ("abs(a) * 1e1", {"a": -0.25}, 2.5),
    ],
)
def test_expressions(text: str, env: dict[str, float], value: float) -> None:
    expression = parse_expression(text)
    assert round(expression(env), 9) == value
    assert expression.names <= set(env)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('id')", "unknown function"),
        ("a.real", "not allowed"),
        ("a[0]", "not allowed"),
        ("a ** 2", "operator"),
        ("a % 2", "operator"),
        ("a if b else c", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("'text'", "only numbers"),
        ("True", "only numbers"),
        ("min(a)", "min() takes 2"),
        ("abs(a, b)", "abs() takes 1"),
        ("max(a, b, key=c)", "max() takes"),
        ("max(*a, *b)", "not allowed"),
        ("a < b", "not allowed"),
        ("1e999", "not a finite number"),
        ("", "empty"),
        ("a +", "not an arithmetic expression"),
        ("a" * 201, "longer than 200"),
        ("import os", "not an arithmetic expression"),
    ],
)
def test_expressions_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse_expression(text)


def test_expression_evaluation_errors() -> None:
    with pytest.raises(ExpressionError, match="division by zero"):
        parse_expression("a / b")({"a": 1.0, "b": 0.0})
    with pytest.raises(ExpressionError, match="'b' has no value"):
        parse_expression("a + b")({"a": 1.0})
    with pytest.raises(ExpressionError, match="not a finite"):
        parse_expression("a * a")({"a": 1e200})


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_no_text_crashes_the_expression_parser(text: str) -> None:
    try:
        expression = parse_expression(text)
    except ExpressionError:
        return
    try:
        value = expression(dict.fromkeys(expression.names, 2.0))
    except ExpressionError:
        return
    assert math.isfinite(value)


# -- counters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "rollover", "outcome"),
    [
        (None, 5, 65536, (None, "baseline")),
        (100, 107, 65536, (7, "ok")),
        (100, 100, 65536, (0, "ok")),
        (100, 1200, 65536, (None, "jump")),  # more than max_increase 1000 at once
        (65530, 3, 65536, (9, "rollover")),
        (9995, 4, 10000, (9, "rollover")),  # a decimal counter wrapping at 10000
        (1240, 5, 65536, (5, "reset")),
        (40000, 3, 65536, (3, "reset")),
        (5000, 4990, 65536, (None, "backwards")),
        (5, 70000, 65536, (None, "invalid")),
        (2**32 - 16, 5, 2**32, (21, "rollover")),
    ],
)
def test_counter_increase(previous: int | None, current: int, rollover: int, outcome) -> None:
    assert counter_increase(previous, current, rollover, 1000) == outcome


@given(
    st.sampled_from([2**16, 2**32, 10_000]),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 1000), max_size=30),
)
def test_counter_increases_add_up_across_rollovers(
    rollover: int, start: int, rises: list[int]
) -> None:
    count, total = start % rollover, 0
    previous = None
    for rise in [0, *rises]:
        count = (count + rise) % rollover
        value, event = counter_increase(previous, count, rollover, 1000)
        assert event in ("baseline", "ok", "rollover")
        total += value or 0
        previous = count
    assert total == sum(rises)


def test_emulated_rain_adds_up_through_the_decoder() -> None:
    """Poll the emulated gauge every 5th step for two days from just below the rollover: the
    published rain equals the tips the emulator counted, times 0.2 mm."""
    compiled = compile_profile(load_profile("rain-tipping-generic"))
    pattern = RegisterPattern("rain-tipping-generic", seed=7, step_seconds=60, counter_start=65_000)
    decoder = DeviceDecoder(compiled)
    published = 0.0
    for step in range(0, 2 * 1440, 5):
        decoded = decoder.decode(pattern.registers(step))
        assert not decoded.problems
        published += decoded.fields.get("rain", 0.0)
    last = 2 * 1440 - 5
    assert pattern.added(last) > 536, "the emulated count went through its rollover"
    assert round(published, 6) == round(pattern.added(last) * 0.2, 6)
    rates = [pattern.shower(pattern.virtual_time(k)) for k in range(0, 2 * 1440, 60)]
    assert 0 < sum(r > 0 for r in rates) < len(rates), "it rains in bursts, not always"


# -- emulated values ----------------------------------------------------------------------------


def test_emulated_level_and_surface_follow_the_world() -> None:
    level = compile_profile(load_profile("level-ultrasonic-generic"))
    pattern = RegisterPattern(
        "level-ultrasonic-generic", seed=3, step_seconds=600, params={"reference": 300.0}
    )
    decoder = DeviceDecoder(level, {"reference": 300.0})
    levels = [decoder.decode(pattern.registers(k)).fields["level"] for k in range(288)]  # 2 days
    assert max(levels) > 20 and min(levels) < 1, "the water rises and falls"
    assert all(-2 < v < 40 for v in levels)
    road = compile_profile(load_profile("road-surface-generic"))
    pattern = RegisterPattern("road-surface-generic", seed=3, step_seconds=600)
    hot = {}
    for k in range(144):
        hour = ((pattern.virtual_time(k) + 7 * 3600) % 86400) // 3600
        value = road.decode(pattern.registers(k))["surface_temperature"]
        hot.setdefault(hour, []).append(value)
    assert min(hot[13]) > max(hot[2]) + 15, "hot early afternoon, cool before dawn (WIB)"


# -- profile schema: errors that point ----------------------------------------------------------

RAIN = 'kind = "counter"\nmax_increase = 100\n'


@pytest.mark.parametrize(
    ("body", "key", "value", "message"),
    [
        (field("rain", 0, "int16") + RAIN, "fields[0].kind", "'counter'", "uint16 or uint32"),
        (field("rain", 0, offset=1.5) + RAIN, "fields[0].kind", "'counter'", "offset must be 0"),
        (field("rain", 0, rollover=100), "fields[0].rollover", "100", "only for kind"),
        (
            field("rain", 0) + RAIN + "rollover = 70000\n",
            "fields[0].rollover",
            "70000",
            "65536 at most",
        ),
        (field("rain", 0, kind="counter"), "fields[0].max_increase", "None", "needs max_increase"),
        (field("rain", 0, range=[5.0, 1.0]), "fields[0].range", "[5.0, 1.0]", "min < max"),
        (field("rain", 0) + "publish = false\n", "fields", "None", "nothing to publish"),
        (
            field("distance", 0) + '[[derived]]\nname = "level"\nexpression = "ref - distance"\n'
            'unit = "cm"\n',
            "derived[0].expression",
            "'ref - distance'",
            "unknown name(s) ['ref']",
        ),
        (
            field("distance", 0) + '[[derived]]\nname = "level"\nexpression = "distance ** 2"\n'
            'unit = "cm"\n',
            "derived[0].expression",
            "'distance ** 2'",
            "operator",
        ),
        (
            field("distance", 0) + '[[derived]]\nname = "distance"\nexpression = "distance"\n'
            'unit = "cm"\n',
            "derived[0].name",
            "'distance'",
            "already used by fields[0]",
        ),
        (
            field("distance", 0) + '[[derived]]\nname = "level"\nexpression = "distance"\n'
            'unit = "m"\n',
            "derived[0].unit",
            "'m'",
            "'cm' by the protocol",
        ),
        (
            field("distance", 0) + '[params.reference]\nunit = "cm"\ndefault = 5.0\n'
            "range = [10.0, 20.0]\n",
            "params.reference.default",
            "5.0",
            "outside range",
        ),
        (
            field("distance", 0) + '[params.distance]\nunit = "cm"\n',
            "fields[0].name",
            "'distance'",
            "already used by params.distance",
        ),
        (
            field("rain", 0) + "[identify]\naddress = 256\nvalue = 0x1234\nmask = 0x00ff\n",
            "identify.mask",
            "255",
            "bits outside mask",
        ),
    ],
)
def test_broken_profile_features_name_file_key_and_value(
    tmp_path: Path, body: str, key: str, value: str, message: str
) -> None:
    path = write(tmp_path, HEADER + body)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    text = str(info.value)
    assert f"{path}: {key} = {value}: " in text, text
    assert message in text, text


def test_shipped_profiles_can_be_identified() -> None:
    for name in SHIPPED:
        compiled = compile_profile(load_profile(name))
        assert identify_requests(compiled), f"{name}: no [identify] and no ranges"


# -- device params ------------------------------------------------------------------------------


def modbus(profile: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "lvl1",
        "driver": "modbus",
        "serial": {"port": "/dev/ttyUSB0"},
        "profile": profile,
        **extra,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {},
            "params.reference = None: required by profile 'level-ultrasonic-generic' (cm: "
            "mounting height",
        ),
        ({"reference": 250.0, "refrence": 1.0}, "params.refrence = 1.0: profile "),
        ({"reference": "250"}, "params.reference = '250': must be a number"),
        ({"reference": 5.0}, "params.reference = 5.0: outside [30.0, 2000.0] cm"),
    ],
)
def test_device_params_are_checked_with_the_config(params: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(ModbusConfig, modbus("level-ultrasonic-generic", params=params), "gw.toml")
    text = str(info.value)
    assert "gw.toml: params = " in text, text
    assert message in text, text


def test_unknown_or_broken_profile_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        validate(ModbusConfig, modbus("no-such-sensor"), "gw.toml")
    assert "gw.toml: profile = 'no-such-sensor': " in str(info.value)
    assert "known: " in str(info.value)
    broken = write(tmp_path, HEADER + field("rain", 0, kind="counter"))
    with pytest.raises(ConfigError) as info:
        validate(ModbusConfig, modbus(str(broken)), "gw.toml")
    assert "fields[0].max_increase" in str(info.value)


def test_params_given_to_the_driver_without_validation(tmp_path: Path) -> None:
    config = ModbusConfig.model_construct(
        id="lvl1",
        driver="modbus",
        serial=SerialPort(port=str(tmp_path / "tty")),
        unit=1,
        profile="level-ultrasonic-generic",
        params={},
        poll_interval=5.0,
        retries=2,
        reopen_interval=5.0,
    )
    with pytest.raises(ConfigError) as info:
        ModbusDriver(config, lambda r: None)
    assert "devices[id=lvl1].params.reference = None: required" in str(info.value)
    with pytest.raises(ParamError, match="reference"):
        DeviceDecoder(compile_profile(load_profile("level-ultrasonic-generic")), {})


def test_param_defaults_apply(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + field("distance", 0) + '[params.reference]\nunit = "cm"\ndefault = 200.0\n'
        '[[derived]]\nname = "level"\nexpression = "reference - distance"\nunit = "cm"\n',
    )
    compiled = compile_profile(load_profile(path))
    assert DeviceDecoder(compiled).decode({0: 150}).fields == {"distance": 150.0, "level": 50.0}
    given = DeviceDecoder(compiled, {"reference": 180}).decode({0: 150}).fields
    assert given == {"distance": 150.0, "level": 30.0}


def test_unpublished_fields_feed_derived_ones(tmp_path: Path) -> None:
    body = (
        field("raw_mm", 0, scale=0.1)
        + "publish = false\n"
        + '[[derived]]\nname = "distance"\nexpression = "raw_mm / 10"\nunit = "cm"\n'
        + "range = [0.0, 100.0]\n"
    )
    compiled = compile_profile(load_profile(write(tmp_path, HEADER + body)))
    assert DeviceDecoder(compiled).decode({0: 5000}).fields == {"distance": 50.0}
    too_far = DeviceDecoder(compiled).decode({0: 20000})
    assert too_far.fields == {}
    assert "out of range: 200.0" in too_far.problems["distance"]
