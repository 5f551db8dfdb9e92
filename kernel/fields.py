"""Config pieces every component spells the same way: URLs, ports, files, secrets, MQTT, InfluxDB.

Field types (``Annotated`` pydantic types, each with the words of what it allows):
:data:`BrokerUrl`, :data:`InfluxUrl`, :data:`Port`, :data:`ConfigPath`, :data:`ReadableFile`,
:data:`DevicePath`, :data:`Secret`, :data:`ClientId`.

Paths follow one rule (:func:`resolve_path`, used by every path key of every config): an
absolute path is taken as given; a relative path read from a config file is resolved against
the folder of that file (:func:`kernel.config.validate` passes it in the validation
context, :data:`kernel.config.CONFIG_DIR`); a relative path from the command line or the
environment (no config file) against the working directory. ``~`` is expanded.

Groups of settings shared by services (mixins of
:class:`kernel.settings.ServiceSettings`): :class:`MqttLink` (broker, protocol, TLS, login)
and :class:`InfluxLink` (URL, database, token or username and password).

A :data:`Secret` is a :class:`pydantic.SecretStr`: it never shows in a repr, a log line or an
error. Empty secrets and well-known default ones (:data:`DEFAULT_SECRETS`) are refused.
URLs never carry credentials. Pure: the only I/O is :func:`check_readable_file`, which looks
at the file system when a path is validated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
)

from kernel.config import CONFIG_DIR
from kernel.schema import Allowed
from kernel.text import T, Text, TextError

#: Secrets that ship in examples and tutorials; no service may run with one of them.
DEFAULT_SECRETS = frozenset(
    {
        "admin",
        "changeit",
        "changeme",
        "change-me",
        "changethis",
        "influxdb",
        "jagajalan",
        "password",
        "root",
        "secret",
        "test",
    }
)

_HOST = re.compile(r"^[A-Za-z0-9._-]+$")


def check_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value().strip()
    if not text:
        raise ValueError("the secret is empty")
    if text.lower() in DEFAULT_SECRETS:
        raise ValueError("a well-known default secret; set a real one")
    return value


def _host_and_port(
    url: str, schemes: dict[str, int], form: Text, path: bool = False
) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise TextError("config.err.url_form", form=form)
    if parts.username or parts.password:
        raise TextError("config.err.url_credentials")
    if (parts.path not in ("", "/") and not path) or parts.query or parts.fragment:
        raise TextError("config.err.url_tail", form=form)
    if not _HOST.match(parts.hostname) and not parts.netloc.startswith("["):
        raise TextError("config.err.url_host", host=repr(parts.hostname))
    try:
        port = schemes[parts.scheme] if parts.port is None else parts.port
    except ValueError:
        raise TextError("config.err.url_port") from None
    if not 1 <= port <= 65535:
        raise TextError("config.err.url_port")
    return parts.hostname, port


def split_broker_url(url: str) -> tuple[str, int, bool]:
    """``mqtts://broker:8883`` -> ("broker", 8883, True). Raises ValueError saying what is
    allowed."""
    form = T("config.form.broker")
    host, port = _host_and_port(url, {"mqtt": 1883, "mqtts": 8883}, form)
    return host, port, url.startswith("mqtts:")


def check_broker_url(url: str) -> str:
    split_broker_url(url)
    return url


def check_influx_url(url: str) -> str:
    """http(s)://host[:port], optionally with a path (InfluxDB behind a reverse proxy)."""
    _host_and_port(url, {"http": 8086, "https": 8086}, T("config.form.influx"), True)
    return url.rstrip("/")


#: The rule in words, for ``Allowed`` texts and the docs.
PATH_RULE = "relative to the config file (options: to the working folder)"


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """The one rule for paths in config: absolute as given; relative against the config
    file's folder (``info.context[CONFIG_DIR]``), else the working directory. The result is
    absolute and normalised (``..`` removed), symbolic links kept (``/dev/serial/by-id``)."""
    value = value.expanduser()
    if not value.is_absolute():
        base = (info.context or {}).get(CONFIG_DIR)
        value = (Path(base) if base is not None else Path.cwd()) / value
    return Path(os.path.normpath(value.absolute()))


def resolve_device(value: str, info: ValidationInfo) -> str:
    """:func:`resolve_path` for a serial port, which may also be a pyserial URL
    (``socket://host:port``, ``rfc2217://...``): URLs are kept as given."""
    if "://" in value:
        return value
    return str(resolve_path(Path(value), info))


def check_readable_file(path: Path) -> Path:
    if not path.exists():
        raise TextError("config.err.no_file")
    if not path.is_file():
        raise TextError("config.err.not_a_file")
    if not os.access(path, os.R_OK):
        raise TextError("config.err.not_readable")
    return path


BrokerUrl = Annotated[
    str,
    AfterValidator(check_broker_url),
    Allowed("mqtt://host[:port], or mqtts://host[:port] for TLS; no credentials in it"),
]
InfluxUrl = Annotated[
    str,
    AfterValidator(check_influx_url),
    Allowed("http://host[:port] or https://host[:port]; no credentials in it"),
]
Port = Annotated[int, Field(ge=1, le=65_535)]
#: A file or folder path (need not exist yet, e.g. a spool), resolved by :func:`resolve_path`.
ConfigPath = Annotated[Path, AfterValidator(resolve_path), Allowed(f"a path, {PATH_RULE}")]
ReadableFile = Annotated[
    Path,
    AfterValidator(resolve_path),
    AfterValidator(check_readable_file),
    Allowed(f"a readable file, {PATH_RULE}"),
]
#: A serial port: a device path (resolved as :data:`ConfigPath`) or a pyserial URL.
DevicePath = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(resolve_device),
    Allowed(f"a device path, {PATH_RULE}, or a pyserial URL"),
]
Secret = Annotated[
    SecretStr,
    AfterValidator(check_secret),
    Allowed("a secret, given in a file or the environment: not empty, not a default one"),
]
#: The CA certificates that check an mqtts:// broker (``--ca-file`` in every service).
CaFile = Annotated[
    ReadableFile | None,
    Field(description="CA certificate(s), PEM, for an mqtts:// broker; unset: the system's"),
]
ClientId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Allowed("1 to 128 letters, digits, '.', '_' or '-', e.g. ingest.1"),
]

#: A rule across fields: (the fields it is about, what is wrong).
Rule = tuple[tuple[str, ...], str]


def given(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name)
    return value is not None and value != ""


class SettingsGroup(BaseModel):
    """A set of options shown together in ``--help`` and the docs (``group``), with the
    rules across its fields (:meth:`rules`, checked on the values as given)."""

    # Built on first use: creating the groups (every `jagajalan` start) stays cheap.
    model_config = ConfigDict(defer_build=True)
    group: ClassVar[str] = "options"

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        return []


class MqttLink(SettingsGroup):
    """How a service reaches the MQTT broker."""

    group: ClassVar[str] = "MQTT"

    broker_url: BrokerUrl = Field("mqtt://127.0.0.1:1883", description="the MQTT broker")
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="MQTT version; auto = 5 unless the broker refuses it"
    )
    ca_file: CaFile = None
    mqtt_username: str | None = Field(None, min_length=1, description="broker username")
    mqtt_password: Secret | None = Field(None, description="broker password")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        out: list[Rule] = []
        if given(values, "mqtt_password") and not given(values, "mqtt_username"):
            out.append((("mqtt_username",), "a broker password needs a username"))
        if given(values, "ca_file") and not str(values.get("broker_url", "")).startswith("mqtts"):
            out.append((("ca_file", "broker_url"), "a CA file needs an mqtts:// broker URL"))
        return out


class InfluxLink(SettingsGroup):
    """How a service reaches InfluxDB: a token (2.x/3.x) or a username and password (1.x)."""

    group: ClassVar[str] = "store"
    #: The user a password logs in as when no username is given (a service's own user,
    #: store.privileges); None: a password needs a username.
    default_influx_username: ClassVar[str | None] = None

    influx_url: InfluxUrl | None = Field(
        None, description="InfluxDB base URL, e.g. http://127.0.0.1:8086"
    )
    influx_db: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$"), Allowed("1 to 64 letters, digits, _ or -")
    ] = Field("jagajalan", description="InfluxDB database")
    influx_token: Secret | None = Field(None, description="InfluxDB 2.x/3.x token")
    influx_username: str | None = Field(None, min_length=1, description="InfluxDB 1.x username")
    influx_password: Secret | None = Field(None, description="InfluxDB 1.x password")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        token, user = given(values, "influx_token"), given(values, "influx_username")
        password = given(values, "influx_password")
        out: list[Rule] = []
        if token and (user or password):
            other = "influx_username" if user else "influx_password"
            out.append(
                (("influx_token", other), "give a token or a username and password, not both")
            )
        elif password and not user and not getattr(cls, "default_influx_username", None):
            out.append((("influx_username",), "a password needs a username"))
        elif user and not password:
            out.append((("influx_password",), "a username needs a password"))
        if (token or user or password) and not given(values, "influx_url"):
            out.append((("influx_url",), "InfluxDB credentials given without a URL"))
        return out

    def influx_secrets(self) -> dict[str, str | None]:
        """token/username/password as plain values for the store client (never log them)."""
        return {
            "token": self.influx_token.get_secret_value() if self.influx_token else None,
            "username": self.influx_username
            or (self.default_influx_username if self.influx_password else None),
            "password": self.influx_password.get_secret_value() if self.influx_password else None,
        }


def client_id_allowed(client_id: str, username: str) -> bool:
    """The broker's rule (deploy/mosquitto: the jagajalan_clientid plugin): a client of user
    U connects as client id U or ``U.<anything>``."""
    return client_id == username or (
        client_id.startswith(username + ".") and client_id != username + "."
    )


def utc_ms(value: Any) -> int:
    """``2026-11-01T00:00:00Z`` (no zone: UTC) -> milliseconds since the Unix epoch."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError("not a time such as 2026-11-01T00:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


UtcTime = Annotated[
    int, BeforeValidator(utc_ms), Allowed("a UTC time such as 2026-11-01T00:00:00Z")
]
