"""Properties of the node settings' values (telemetry/node_settings.py): what passes the check
fits the register and reads back as itself; what is outside the range never passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.text import TextError
from telemetry.node_settings import NodeSetting, check_value, decode, encode, shown

SETTINGS = [
    NodeSetting(address=10, type="int16", scale=0.1, range=(-10.0, 10.0)),
    NodeSetting(address=10, type="uint32", word_order="little", range=(0, 4_000_000)),
    NodeSetting(address=10, type="int32", scale=0.01, range=(-20000.0, 20000.0)),
    NodeSetting(address=10, range=(1, 247), role="unit_address"),
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.type)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_accepted_values_round_trip_and_others_are_refused(setting, value: float) -> None:
    lo, hi = setting.range
    try:
        raw = check_value(setting, value, "x")
    except TextError:
        return  # refused: out of range, not a step, not finite
    assert lo <= value <= hi
    words = encode(setting, raw)
    assert all(0 <= w <= 0xFFFF for w in words) and len(words) == len(setting.registers)
    assert decode(setting, words) == raw
    assert float(shown(setting, raw)) == pytest.approx(value, abs=setting.scale / 2)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.type)
@given(data=st.data())
def test_every_value_outside_the_range_is_refused(setting, data) -> None:
    lo, hi = setting.range
    value = data.draw(
        st.one_of(
            st.floats(max_value=lo, exclude_max=True), st.floats(min_value=hi, exclude_min=True)
        )
    )
    with pytest.raises(TextError):
        check_value(setting, value, "x")
