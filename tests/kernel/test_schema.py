"""kernel.schema says in words what a field allows, and finds the field an error points at;
kernel.config adds both to TOML errors (the gateway's golden cases show them in context)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import pytest
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from kernel.config import ConfigError, validate
from kernel.fields import BrokerUrl, Secret
from kernel.schema import allowed, describe, field_at, keys_of


class Serial(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: str = Field(min_length=1, description="device path")
    baudrate: Literal[9600, 19200] = 9600


class Counter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver: Literal["counter"]
    serial: Serial
    lanes: list[Annotated[int, Field(ge=1, le=9)]] = Field([1], min_length=1)


class Gauge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver: Literal["gauge"]
    height: float = Field(300.0, gt=0, le=1000, description="sensor above the road, cm")


Device = Annotated[
    Union[Annotated[Counter, Tag("driver[counter]")], Annotated[Gauge, Tag("driver[gauge]")]],  # noqa: UP007
    Discriminator(lambda v: f"driver[{v.get('driver')}]" if isinstance(v, dict) else None),
]


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern="^[a-z]+$", description="site name")
    devices: list[Device] = Field(min_length=1)
    limits: dict[str, Annotated[float, Field(ge=0)]] = {}


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (Annotated[int, Field(ge=1, le=65_535)], "a whole number from 1 to 65535"),
        (Annotated[float, Field(gt=0, le=60)], "a number more than 0, at most 60"),
        (Annotated[float, Field(ge=0.05)], "a number, at least 0.05"),
        (Literal["auto", "5", "3.1.1"], "one of: auto, 5, 3.1.1"),
        (Annotated[str, Field(min_length=1)], "text, not empty"),
        (Annotated[str, Field(max_length=200)], "text of at most 200 characters"),
        (bool, "true or false"),
        (Path | None, "a file path"),
        (tuple[float, float], "a pair [first, second] of numbers"),
        (list[Annotated[int, Field(ge=1, le=9)]], "a list of whole numbers from 1 to 9"),
        (dict[str, float], "a table of text = a number"),
        (BrokerUrl | None, "mqtt://host[:port], or mqtts://host[:port] for TLS"),
        (Secret, "a secret, given in a file or the environment"),
        (Serial, "a table"),
    ],
)
def test_allowed_in_words(annotation: object, text: str) -> None:
    assert describe(annotation).startswith(text)


def test_field_at_follows_tables_lists_and_tagged_unions() -> None:
    field, table = field_at(Doc, ("devices", 0, "driver[gauge]", "height"))
    assert field is not None and table is Gauge
    assert allowed(field) == "a number more than 0, at most 1000"
    field, table = field_at(Doc, ("devices", 1, "driver[counter]", "serial", "baudrat"))
    assert field is None and table is Serial and keys_of(table) == ["port", "baudrate"]
    field, _ = field_at(Doc, ("devices", 0, "driver[counter]", "lanes", 2))
    assert field is not None and allowed(field) == "a whole number from 1 to 9"
    field, _ = field_at(Doc, ("limits", "pm25"))
    assert field is not None and allowed(field) == "a number, at least 0"


def test_toml_errors_say_what_is_allowed_and_which_keys_exist() -> None:
    data = {
        "devices": [
            {"driver": "gauge", "height": 0},
            {"driver": "counter", "serial": {"port": "/dev/x", "baudrat": 1}, "lanes": [1, 12]},
        ],
        "limits": {"pm25": -1},
    }
    with pytest.raises(ConfigError) as info:
        validate(Doc, data, "site.toml")
    text = info.value.render()
    assert "site.toml: name = None: required key is missing (site name: text matching" in text
    assert "devices[0].height = 0: Input should be greater than 0 (allowed: a number more" in text
    assert (
        "devices[1].serial.baudrat = 1: unknown key (misspelt?); did you mean baudrate? "
        "(keys here: port, baudrate)" in text
    )
    assert "devices[1].lanes[1] = 12: Input should be less than or equal to 9 (allowed: a " in text
    assert "limits.pm25 = -1: Input should be greater than or equal to 0 (allowed: a number" in text
