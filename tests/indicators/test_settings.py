"""The job's settings log in as its own InfluxDB user by default (store.privileges: the user
`jagajalan store setup --analytics-password-file` makes); other services still need a name."""

from __future__ import annotations

import argparse

import pytest

from api.settings import ApiSettings
from indicators.settings import ANALYTICS_USER, AnalyticsBackfillSettings, AnalyticsRunSettings
from kernel.settings import SettingsError, add_options, load
from store.privileges import SERVICES

URL = "http://127.0.0.1:8086"
PASSWORD = {"JAGAJALAN_INFLUX_PASSWORD": "An4lytics-pw-x"}


def _load(cls: type, argv: list[str], env: dict[str, str]):
    parser = argparse.ArgumentParser()
    add_options(parser, cls)
    return load(cls, parser.parse_args(argv), env)


def test_a_password_alone_logs_in_as_the_analytics_user() -> None:
    assert ANALYTICS_USER == SERVICES["analytics"].default_username == "jagajalan_analytics"
    window = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-02T00:00:00Z"]
    for cls, argv in ((AnalyticsRunSettings, []), (AnalyticsBackfillSettings, window)):
        settings = _load(cls, ["--influx-url", URL, *argv], PASSWORD)
        secrets = settings.influx_secrets()
        assert (secrets["username"], secrets["password"]) == (ANALYTICS_USER, "An4lytics-pw-x")
        named = _load(cls, ["--influx-url", URL, "--influx-username", "jj_x", *argv], PASSWORD)
        assert named.influx_secrets()["username"] == "jj_x"
        # No password (an InfluxDB without auth, or a token): no user is sent.
        assert _load(cls, ["--influx-url", URL, *argv], {}).influx_secrets()["username"] is None
        token = {"JAGAJALAN_INFLUX_TOKEN": "t0ken-for-2x-abc"}
        assert _load(cls, ["--influx-url", URL, *argv], token).influx_secrets() == {
            "token": "t0ken-for-2x-abc",
            "username": None,
            "password": None,
        }


def test_other_services_still_need_a_username_with_a_password() -> None:
    with pytest.raises(SettingsError, match="a password needs a username"):
        _load(ApiSettings, ["--influx-url", URL], PASSWORD)
