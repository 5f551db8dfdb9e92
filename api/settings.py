"""Settings of ``jagajalan api run``: from the command line, else ``JAGAJALAN_*`` variables.

Every option ``--some-name`` can also come from ``JAGAJALAN_SOME_NAME``; the command line wins.
Secrets are never options: they come from files (``--influx-token-file``,
``--influx-password-file``) or from ``JAGAJALAN_INFLUX_TOKEN`` / ``JAGAJALAN_INFLUX_PASSWORD``.
They are kept as :class:`pydantic.SecretStr`, so they never show in a repr or a log line.
Settings that would run with a well-known default secret (``admin``, ``changeme``, ...) or
an empty one are refused, like every other mistake: all problems are reported at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from kernel.config import ConfigError
from kernel.secrets import DEFAULT_SECRETS
from store import DEFAULT_SQLITE_PATH, StoreReader, open_reader

SOURCE = "command line/environment"


class ApiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    influx_url: str | None = None
    influx_db: str = "jagajalan"
    influx_token: SecretStr | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    sqlite: str | None = None
    broker_url: str | None = None
    broker_timeout: float = 2.0

    @property
    def backend(self) -> str:
        return "influxdb" if self.influx_url else "sqlite"

    def open_store(self) -> StoreReader:
        """The store, read-only: the API's user needs READ and nothing else."""
        return open_reader(
            influx_url=self.influx_url,
            influx_db=self.influx_db,
            influx_token=self.influx_token.get_secret_value() if self.influx_token else None,
            influx_username=self.influx_username,
            influx_password=(
                self.influx_password.get_secret_value() if self.influx_password else None
            ),
            sqlite_path=None if self.influx_url else (self.sqlite or DEFAULT_SQLITE_PATH),
        )

    def describe_store(self) -> str:
        """For the log: where the data comes from, never a secret."""
        if not self.influx_url:
            return f"SQLite {self.sqlite or DEFAULT_SQLITE_PATH}"
        auth = "token" if self.influx_token else f"user {self.influx_username or '(none)'}"
        return f"InfluxDB {self.influx_url} db={self.influx_db} auth={auth}"


def env_name(option: str) -> str:
    """``--influx-url`` -> ``JAGAJALAN_INFLUX_URL``."""
    return "JAGAJALAN_" + option.lstrip("-").upper().replace("-", "_")


def _value(args: argparse.Namespace, option: str, env: Mapping[str, str]) -> Any:
    given = getattr(args, option.lstrip("-").replace("-", "_"), None)
    if given is not None:
        return given
    return env.get(env_name(option)) or None


def _secret(
    file_option: str,
    path: str | None,
    env_var: str,
    env: Mapping[str, str],
    problems: list[tuple[str, Any, str]],
) -> SecretStr | None:
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            problems.append((file_option, path, f"cannot read: {exc.strerror}"))
            return None
        where: tuple[str, Any] = (file_option, path)
    else:
        value = env.get(env_var, "")
        if env_var not in env:
            return None
        where = (env_var, "(hidden)")
    if not value.strip():
        problems.append((*where, "the secret is empty"))
    elif value.strip().lower() in DEFAULT_SECRETS:
        problems.append((*where, "a well-known default secret; set a real one"))
    return SecretStr(value)


def _check_url(
    option: str, url: str | None, schemes: tuple[str, ...], problems: list[tuple[str, Any, str]]
) -> None:
    if url is None:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        problems.append((option, url, "not a valid URL (bad port?)"))
        return
    if parts.scheme not in schemes or not parts.hostname:
        problems.append(
            (option, url, f"must be {' or '.join(s + '://host:port' for s in schemes)}")
        )
    elif parts.username or parts.password:
        problems.append((option, "(hidden)", "no credentials in the URL"))


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> ApiSettings:
    """Command-line options (else environment) -> settings. Raises ConfigError listing every
    problem; no secret value ever appears in it."""
    problems: list[tuple[str, Any, str]] = []
    values: dict[str, Any] = {}
    for option in ("--host", "--influx-url", "--influx-db", "--influx-username", "--sqlite"):
        value = _value(args, option, env)
        if value is not None:
            values[option.lstrip("-").replace("-", "_")] = value
    values["broker_url"] = _value(args, "--broker-url", env)
    for option, key, low, high, kind in (
        ("--port", "port", 1, 65_535, int),
        ("--broker-timeout", "broker_timeout", 0.05, 60, float),
    ):
        raw = _value(args, option, env)
        if raw is None:
            continue
        try:
            number = kind(raw)
        except ValueError:
            problems.append((option, raw, "not a number"))
            continue
        if not low <= number <= high:
            problems.append((option, raw, f"must be between {low} and {high}"))
        values[key] = number

    if values.get("influx_url") and values.get("sqlite"):
        problems.append(("--influx-url/--sqlite", None, "give one of the two, not both"))
    _check_url("--influx-url", values.get("influx_url"), ("http", "https"), problems)
    _check_url("--broker-url", values["broker_url"], ("mqtt", "mqtts"), problems)
    token = _secret(
        "--influx-token-file",
        _value(args, "--influx-token-file", env),
        "JAGAJALAN_INFLUX_TOKEN",
        env,
        problems,
    )
    password = _secret(
        "--influx-password-file",
        _value(args, "--influx-password-file", env),
        "JAGAJALAN_INFLUX_PASSWORD",
        env,
        problems,
    )
    if token is not None and values.get("influx_username"):
        problems.append(
            (
                "--influx-username",
                values["influx_username"],
                "give a token or a username and password, not both",
            )
        )
    if password is not None and not values.get("influx_username"):
        problems.append(("--influx-username", None, "a password needs a username"))
    if values.get("influx_username") and password is None and token is None:
        problems.append(("--influx-password-file", None, "a username needs a password"))
    if (token or password or values.get("influx_username")) and not values.get("influx_url"):
        problems.append(("--influx-url", None, "InfluxDB credentials given without a URL"))
    if problems:
        raise ConfigError(SOURCE, problems)
    return ApiSettings(influx_token=token, influx_password=password, **values)
