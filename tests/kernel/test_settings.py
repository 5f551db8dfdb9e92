"""kernel.settings: option > environment > default, secrets only from files or the
environment (never shown), and every problem named with its source, value and what is allowed.

A small settings model made of the shared groups stands in for a service here; the services'
own models (api, ingest) are tested in their folders."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from pydantic import Field

from jagajalan.cli import main
from kernel.fields import DEFAULT_SECRETS, InfluxLink, MqttLink, SettingsGroup
from kernel.settings import ServiceSettings, SettingsError, add_options, load, options

STRONG = "Vq3-strong-secret-94b1"  # a secret that must never show anywhere


class Knobs(SettingsGroup):
    group: ClassVar[str] = "knobs"

    count: int = Field(3, ge=1, le=10, description="how many")
    ratio: float = Field(0.5, gt=0, le=1, description="a share")
    mode: Literal["fast", "slow"] = Field("fast", description="the mode")
    name: str = Field("x", pattern="^[a-z]+$", description="a name")
    flag: bool = Field(False, description="a switch")


class DemoSettings(ServiceSettings, Knobs, MqttLink, InfluxLink):
    command: ClassVar[str] = "jagajalan demo-test"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="demo-test")
    add_options(p, DemoSettings)
    return p


def settings(argv: list[str], env: dict[str, str] | None = None) -> DemoSettings:
    return load(DemoSettings, parser().parse_args(argv), env or {})


def problems(argv: list[str], env: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        settings(argv, env)
    text = info.value.render()
    assert text.startswith("config error in jagajalan demo-test: ")
    return text


# -- where values come from -----------------------------------------------------------------


def test_option_beats_environment_beats_default() -> None:
    env = {"JAGAJALAN_COUNT": "5", "JAGAJALAN_MODE": "slow", "JAGAJALAN_FLAG": "true"}
    assert settings(["--count", "7"], env).count == 7
    assert settings([], env).count == 5
    assert settings([]).count == 3
    assert (settings([], env).mode, settings(["--mode", "fast"], env).mode) == ("slow", "fast")
    assert settings([], env).flag is True and settings(["--no-flag"], env).flag is False
    assert settings([]).broker_url == "mqtt://127.0.0.1:1883"


def test_environment_names_in_any_case_and_empty_ones_ignored() -> None:
    assert settings([], {"jagajalan_count": "4"}).count == 4
    assert settings([], {"JAGAJALAN_COUNT": ""}).count == 3


def test_secret_from_option_file_beats_environment(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(STRONG + "\n")
    env = {"JAGAJALAN_MQTT_USERNAME": "ingest", "JAGAJALAN_MQTT_PASSWORD": "Other-Str0ng-1"}
    s = settings(["--mqtt-password-file", str(tmp_path / "pw")], env)
    assert s.mqtt_password is not None and s.mqtt_password.get_secret_value() == STRONG
    s = settings([], env)
    assert s.mqtt_password is not None and s.mqtt_password.get_secret_value() == "Other-Str0ng-1"
    file_env = {
        "JAGAJALAN_MQTT_USERNAME": "u",
        "JAGAJALAN_MQTT_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    s = settings([], file_env)
    assert s.mqtt_password is not None and s.mqtt_password.get_secret_value() == STRONG


def test_a_secret_is_never_a_command_line_value(capsys: pytest.CaptureFixture) -> None:
    for argv in (["--mqtt-password", STRONG], [f"--mqtt-password={STRONG}"]):
        with pytest.raises(SystemExit) as info:  # not an abbreviation of --mqtt-password-file
            parser().parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "--mqtt-password: a secret is never given on the command line" in err
        assert "use --mqtt-password-file or JAGAJALAN_MQTT_PASSWORD" in err
        assert STRONG not in err
    assert "--mqtt-password " not in parser().format_help()
    flags = [o.flag for o in options(DemoSettings) if o.secret]
    assert flags == ["--mqtt-password-file", "--influx-token-file", "--influx-password-file"]


def test_building_the_parser_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAGAJALAN_MQTT_PASSWORD", STRONG)
    monkeypatch.setenv("JAGAJALAN_COUNT", "not even a number")
    text = parser().format_help()
    assert STRONG not in text and "not even a number" not in text
    for option in options(DemoSettings):
        env = option.file_env if option.secret else option.env
        assert f"[env {env}" in " ".join(text.split()), option.flag  # help names the variable


# -- problems: where, value, what is allowed --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--count", "0"], {}, "command line: --count = '0': "),
        ([], {"JAGAJALAN_COUNT": "many"}, "environment: JAGAJALAN_COUNT = 'many': not a number"),
        (["--ratio", "0"], {}, "command line: --ratio = '0': "),
        (["--mode", "medium"], {}, "command line: --mode = 'medium': Input should be 'fast' or"),
        (["--name", "X1"], {}, "command line: --name = 'X1': wrong form"),
        ([], {"JAGAJALAN_FLAG": "maybe"}, "environment: JAGAJALAN_FLAG = 'maybe': not true or"),
        (["--broker-url", "http://b:1"], {}, "--broker-url = 'http://b:1': must be mqtt://"),
        (["--influx-url", "ftp://i"], {}, "--influx-url = 'ftp://i': must be http://host:port"),
        (
            ["--ca-file", "/no/such.pem", "--broker-url", "mqtts://b"],
            {},
            "--ca-file = '/no/such.pem': file not found",
        ),
        (["--mqtt-protocol", "4"], {}, "--mqtt-protocol = '4': Input should be 'auto', '5' or"),
    ],
)
def test_each_bad_value_names_its_source_value_and_what_is_allowed(
    argv: list[str], env: dict[str, str], expected: str
) -> None:
    text = problems(argv, env)
    assert expected in text
    allowed = {
        "--count": "(allowed: a whole number from 1 to 10)",
        "JAGAJALAN_COUNT": "(allowed: a whole number from 1 to 10)",
        "--ratio": "(allowed: a number more than 0, at most 1)",
        "--mode": "'fast' or 'slow'",
        "--name": "(allowed: text matching ^[a-z]+$)",
        "JAGAJALAN_FLAG": "(allowed: true or false)",
        "--broker-url": "mqtt://host:port or mqtts://host:port",
        "--influx-url": "http://host:port or https://",
        "--ca-file": "file not found",
        "--mqtt-protocol": "'auto', '5' or '3.1.1'",
    }
    [source] = [k for k in allowed if k in text]
    assert allowed[source] in text


def test_every_problem_is_reported_at_once() -> None:
    text = problems(
        ["--count", "99", "--mode", "x", "--influx-username", "u"],
        {"JAGAJALAN_RATIO": "2", "JAGAJALAN_BROKER_URL": "mqtt://u:pw-in-url@b"},
    )
    assert "6 problem(s)" in text.splitlines()[0], text
    assert "--count = '99'" in text and "--mode = 'x'" in text
    assert "JAGAJALAN_RATIO = '2'" in text
    assert "a username needs a password" in text  # rules across fields, with the rest
    assert "InfluxDB credentials given without a URL" in text
    assert "no credentials in the URL" in text and "pw-in-url" not in text


def test_rules_name_the_options_not_given() -> None:
    text = problems(["--influx-username", "u"], {"JAGAJALAN_INFLUX_PASSWORD": STRONG})
    assert "--influx-url (env JAGAJALAN_INFLUX_URL): InfluxDB credentials given without" in text
    assert STRONG not in text


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["", " ", "\n", "changeme", "Admin", " password ", "SECRET"])
def test_empty_and_default_secrets_are_refused_from_env_and_files(
    weak: str, tmp_path: Path
) -> None:
    text = problems([], {"JAGAJALAN_MQTT_USERNAME": "u", "JAGAJALAN_MQTT_PASSWORD": weak})
    assert "environment: JAGAJALAN_MQTT_PASSWORD = (hidden): " in text
    assert ("the secret is empty" if not weak.strip() else "well-known default secret") in text
    (tmp_path / "pw").write_text(weak)
    text = problems(["--mqtt-username", "u", "--mqtt-password-file", str(tmp_path / "pw")])
    assert f"command line: --mqtt-password-file = '{tmp_path / 'pw'}': " in text


def test_every_default_secret_is_refused() -> None:
    for weak in sorted(DEFAULT_SECRETS):
        text = problems([], {"JAGAJALAN_INFLUX_URL": "http://i", "JAGAJALAN_INFLUX_TOKEN": weak})
        assert "JAGAJALAN_INFLUX_TOKEN = (hidden): a well-known default secret" in text


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "latin1").write_bytes(b"geheim\xe9\n")
    cases = {
        str(tmp_path / "missing"): "cannot read: No such file or directory",
        str(tmp_path): "cannot read: Is a directory",
        str(tmp_path / "latin1"): "cannot read: not UTF-8 text",
    }
    for path, why in cases.items():
        text = problems(["--mqtt-username", "u", "--mqtt-password-file", path])
        assert f"command line: --mqtt-password-file = '{path}': {why}" in text
        assert "a broker password needs" not in text  # not reported twice
        env = {"JAGAJALAN_MQTT_USERNAME": "u", "JAGAJALAN_MQTT_PASSWORD_FILE": path}
        assert f"environment: JAGAJALAN_MQTT_PASSWORD_FILE = '{path}': {why}" in problems([], env)


def test_a_secret_given_twice_in_the_environment_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(STRONG)
    env = {
        "JAGAJALAN_MQTT_USERNAME": "u",
        "JAGAJALAN_MQTT_PASSWORD": STRONG,
        "JAGAJALAN_MQTT_PASSWORD_FILE": str(tmp_path / "pw"),
    }
    text = problems([], env)
    assert (
        "JAGAJALAN_MQTT_PASSWORD_FILE and JAGAJALAN_MQTT_PASSWORD: give the secret in one" in text
    )
    assert STRONG not in text


def test_a_secret_never_shows_in_repr_dump_or_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings([], {"JAGAJALAN_MQTT_USERNAME": "u", "JAGAJALAN_MQTT_PASSWORD": STRONG})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s %r", s, s)
    for text in (repr(s), str(s), s.model_dump_json(), caplog.text):
        assert STRONG not in text


def test_the_jagajalan_command_prints_problems_and_exits_2(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAGAJALAN_INFLUX_TOKEN", "changeme")
    monkeypatch.setenv("JAGAJALAN_PORT", "http")
    assert main(["api", "run", "--influx-url", "http://127.0.0.1:9", "--host", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error in jagajalan api run: 3 problem(s)"), err
    assert "Traceback" not in err and "changeme" not in err


def test_a_long_value_is_cut_in_its_middle_keeping_the_file_name(tmp_path: Path) -> None:
    """A deep folder (a USB stick's mount, pytest's own folders) must not hide which file."""
    deep = tmp_path / ("d" * 120) / ("e" * 120) / "gateway-secret.txt"
    text = problems(["--mqtt-username", "u", "--mqtt-password-file", str(deep)])
    line = next(line for line in text.splitlines() if "--mqtt-password-file" in line)
    assert "...d" in line or "...e" in line, line
    assert "gateway-secret.txt': cannot read: No such file or directory" in line, line
    assert f"= '{str(deep)[:40]}" in line, line
