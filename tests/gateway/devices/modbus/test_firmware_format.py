"""The ``[info.firmware]`` format of Modbus profiles (telemetry/node_firmware.py): decoding
each format, garbage registers as a clear FirmwareFormatError (never another exception), the
checks of the table, and the emulator's own encoder read back by the gateway's decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.devices.modbus.profile import load_profile, profile_problems
from simulators.devices.node_firmware import firmware_words
from telemetry.node_firmware import FirmwareFormatError, FirmwareRegister, decode_firmware

U16 = FirmwareRegister(address=0x0F00, format="u16.u16")
U8 = FirmwareRegister(address=0x0F00, format="u8.u8", prefix="WL-")
ASCII = FirmwareRegister(address=0x0F00, format="ascii", count=4)


@pytest.mark.parametrize(
    ("spec", "words", "version"),
    [
        (U16, [1, 4], "1.4"),
        (U16, [0, 12], "0.12"),
        (U16, [2, 0], "2.0"),
        (U8, [0x0208], "WL-2.8"),
        (ASCII, [0x5448, 0x2D31, 0x2E30, 0x3400], "TH-1.04"),  # "TH-1.04\0"
        (ASCII, [0x3120, 0x2020, 0x2020, 0x2020], "1"),  # padded with spaces
    ],
)
def test_each_format_decodes(spec: FirmwareRegister, words: list[int], version: str) -> None:
    assert decode_firmware(spec, words) == version


@pytest.mark.parametrize(
    ("spec", "words", "why"),
    [
        (U16, [0, 0], "no version (registers 0x0000 0x0000)"),
        (U16, [0xFFFF, 0xFFFF], "no version (registers 0xffff 0xffff)"),
        (U16, [1], "1 register(s) read, 2 expected"),
        (U16, [1, 0x10000], "not 16-bit registers"),
        (U16, [-1, 2], "not 16-bit registers"),
        (ASCII, [0x5448, 0x0001, 0, 0], "not printable ASCII"),
        (ASCII, [0x2020, 0x2020, 0x2000, 0], "not printable ASCII"),  # only spaces
        (ASCII, [0x5448, 0xC3A9, 0, 0], "not printable ASCII"),  # UTF-8, not ASCII
        (U8, [0xFFFF], "no version"),
    ],
)
def test_garbage_is_a_clear_error(spec: FirmwareRegister, words: list[int], why: str) -> None:
    with pytest.raises(FirmwareFormatError) as caught:
        decode_firmware(spec, words)
    assert why in str(caught.value)


@given(
    st.sampled_from([U16, U8, ASCII]),
    st.lists(st.integers(-5, 0x1_0005), min_size=0, max_size=6),
)
def test_any_registers_decode_or_are_unknown(spec: FirmwareRegister, words: list[int]) -> None:
    try:
        version = decode_firmware(spec, words)
    except FirmwareFormatError as exc:
        assert str(exc)
    else:
        assert version.startswith(spec.prefix) and len(version) > len(spec.prefix)
        assert version.isprintable() and len(version) <= 64


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_the_emulator_encoding_reads_back(major: int, minor: int) -> None:
    version = f"{major}.{minor}"
    if major == minor == 0 or major == minor == 0xFFFF:
        return  # no version by the format's rule
    assert decode_firmware(U16, firmware_words(U16, version)) == version
    if major <= 0xFF and minor <= 0xFF and (major, minor) != (0xFF, 0xFF):
        assert decode_firmware(U8, firmware_words(U8, f"WL-{version}")) == f"WL-{version}"
    if len(version) <= 8:
        assert decode_firmware(ASCII, firmware_words(ASCII, version)) == version


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"address": 1, "format": "ascii"}, "format 'ascii' needs count"),
        ({"address": 1, "format": "u16.u16", "count": 3}, "reads 2 register(s), not 3"),
        ({"address": 0xFFFF, "format": "u16.u16"}, "run past 65535"),
        ({"address": 1, "format": "u32"}, "'u16.u16', 'u8.u8' or 'ascii'"),
        ({"address": 1, "format": "ascii", "count": 17}, "less than or equal to 16"),
        ({"address": 1, "format": "u8.u8", "prefix": "é"}, "should match pattern"),
    ],
)
def test_a_bad_table_is_refused_naming_the_problem(table: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FirmwareRegister.model_validate(table)
    assert message in str(caught.value)


def test_the_version_may_not_share_a_register_with_a_field_or_setting() -> None:
    profile = load_profile("pm-th-generic")
    fw = profile.info.firmware
    assert fw is not None and fw.address == 0x0F00 and not profile_problems(profile)
    on_field = profile.model_copy(
        update={
            "info": profile.info.model_copy(
                update={"firmware": fw.model_copy(update={"address": 3})}
            )
        }
    )
    assert profile_problems(on_field) == [
        ("info.firmware.address", 3, "register 3 is also read as field 'humidity'")
    ]
    on_setting = profile.model_copy(
        update={
            "info": profile.info.model_copy(
                update={"firmware": fw.model_copy(update={"address": 1999})}
            )
        }
    )
    assert profile_problems(on_setting) == [
        ("info.firmware.address", 1999, "register 2000 is also read as setting 'unit_address'")
    ]
