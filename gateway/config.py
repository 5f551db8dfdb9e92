"""The gateway's TOML config: one pydantic model, loaded once at start, errors that point.

```toml
[gateway]
id = "srl-pasar-01"            # gateway id, also the MQTT client id and topic segment
site = "Pasar Surakarta"       # optional
latitude = -7.5667             # optional, -90..90
longitude = 110.8167           # optional, -180..180

[mqtt]
url = "mqtts://broker.example.id:8883"   # mqtt://host[:port] or mqtts://host[:port]
username = "srl-pasar-01"
password_file = "/etc/jagajalan/mqtt.password"   # the secret lives only in this file
ca_file = "/etc/jagajalan/ca.pem"                # TLS (mqtts) only; default: system CAs
certfile = "/etc/jagajalan/client.pem"           # client certificate (mutual TLS), optional
keyfile = "/etc/jagajalan/client.key"            # its private key, mode 600
keepalive = 30
reconnect_min = 1.0     # seconds before the first reconnect; doubles up to reconnect_max
reconnect_max = 60.0

[publish]
max_batch = 50          # readings per batch
max_delay = 1.0         # seconds a reading may wait for a fuller batch
max_inflight = 4        # batches awaiting the broker's PUBACK
status_interval = 60.0  # seconds between retained "online" status refreshes
health_interval = 60.0  # seconds between gateway_health readings; 0 = none
replay_rate = 20.0      # readings/s at most when replaying a backlog after an outage
encoding = "json"       # batch payload encoding: "json" or "compact"

[spool]
path = "/var/lib/jagajalan/srl-pasar-01/spool.sqlite"   # this is the default
max_readings = 1000000
fsync_interval = 1.0    # seconds; readings are fsynced at least this often (0 = every append)

[[devices]]
driver = "traffic_counter"     # a key of gateway.devices.DRIVERS
id = "cnt1"
serial = { port = "/dev/ttyUSB0" }
```

The ``[[devices]]`` entries are a union discriminated on ``driver`` that is built from
:data:`gateway.devices.DRIVERS` when the file is loaded, so a new driver needs no change here.
Every path (the spool, the MQTT secret and certificate files, serial ports, Modbus profile
files) follows the rule of :func:`kernel.fields.resolve_path`: absolute as given, relative
against the folder of this config file. Checks across entries (repeated device ids, an unknown
driver with the closest name) are in :mod:`gateway.crosscheck`.
"""

from __future__ import annotations

import logging
import stat
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializeAsAny,
    Tag,
    create_model,
    field_validator,
    model_validator,
)

from gateway import devices as _drivers
from gateway.crosscheck import UNKNOWN_DRIVER, duplicate_ids, refine
from gateway.devices.base import DeviceConfig, Driver
from gateway.devices.modbus.bus import bus_problems
from kernel.config import ConfigError, load_toml, validate
from kernel.fields import BrokerUrl, ConfigPath, ReadableFile, split_broker_url
from telemetry.codec import encode_batch
from telemetry.models import MIN_TIME_MS, Batch, Reading
from telemetry.topics import ID_PATTERN, reserved_id, reserved_reason

log = logging.getLogger(__name__)

DEFAULT_SPOOL_DIR = Path("/var/lib/jagajalan")
#: A one-reading batch to check at load time that the configured encoding is available.
_PROBE = Batch(
    gateway="probe",
    seq=0,
    sent=MIN_TIME_MS,
    readings=[Reading(sensor="probe", measurement="probe", time=MIN_TIME_MS, fields={"x": 1})],
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewaySection(_Section):
    """The gateway itself."""

    id: str = Field(pattern=f"^{ID_PATTERN}$", description="gateway id, e.g. srl-pasar-01")
    site: str | None = Field(None, max_length=200, description="where the gateway stands")
    latitude: float | None = Field(None, ge=-90, le=90, description="decimal degrees, WGS 84")
    longitude: float | None = Field(None, ge=-180, le=180, description="decimal degrees, WGS 84")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if reserved_id(value):
            raise ValueError(reserved_reason(value))
        return value


class MqttSection(_Section):
    """How the gateway reaches the broker (TLS with mqtts://)."""

    url: BrokerUrl = Field("mqtt://127.0.0.1:1883", description="the MQTT broker")
    username: str | None = Field(None, min_length=1, description="broker user (the gateway id)")
    password_file: ReadableFile | None = Field(
        None, description="file holding the password, mode 600"
    )
    ca_file: ReadableFile | None = Field(None, description="CA certificate (PEM) for mqtts")
    certfile: ReadableFile | None = Field(None, description="client certificate (PEM) for mqtts")
    keyfile: ReadableFile | None = Field(None, description="client private key (PEM) for mqtts")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "5", description="MQTT version; auto = 5 unless the broker refuses it (demo broker)"
    )
    keepalive: int = Field(30, ge=5, le=3600, description="MQTT keepalive, seconds")
    reconnect_min: float = Field(1.0, gt=0, le=60, description="first reconnect delay, s")
    reconnect_max: float = Field(60.0, gt=0, le=3600, description="largest reconnect delay, s")

    @field_validator("username")
    @classmethod
    def _not_a_service(cls, value: str | None) -> str | None:
        if value is not None and reserved_id(value):
            raise ValueError(
                f"a gateway logs in as itself, not as a service; {reserved_reason(value)}"
            )
        return value

    @field_validator("password_file")
    @classmethod
    def _not_empty(cls, value: Path | None) -> Path | None:
        if value is not None and not value.read_text(errors="replace").strip():
            raise ValueError("password file is empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttSection:
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file is set but username is not")
        if not self.tls and any((self.ca_file, self.certfile, self.keyfile)):
            raise ValueError("ca_file/certfile/keyfile need an mqtts:// url")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max is smaller than reconnect_min")
        return self

    @property
    def tls(self) -> bool:
        return split_broker_url(self.url)[2]

    @property
    def host(self) -> str:
        return split_broker_url(self.url)[0]

    @property
    def port(self) -> int:
        return split_broker_url(self.url)[1]

    def read_password(self) -> str | None:
        """The broker password, read from ``password_file`` now (never kept in the config)."""
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")


#: Default backlog replay rate, readings per second. A JSON reading is about 130 bytes on the
#: wire, so 20 readings/s is about 3 kB/s (~25 kbit/s with MQTT and TLS overhead): a small
#: share of even a poor rural 3G uplink (~100-400 kbit/s), leaving room for fresh readings
#: and other traffic, while a day offline at a typical site (~0.5 readings/s, ~45,000
#: readings) drains in under an hour.
DEFAULT_REPLAY_RATE = 20.0


class PublishSection(_Section):
    """Batching, pacing and encoding of what the gateway publishes."""

    max_batch: int = Field(50, ge=1, le=10_000, description="readings per batch, at most")
    max_delay: float = Field(1.0, ge=0, le=3600, description="seconds a reading may wait")
    max_inflight: int = Field(4, ge=1, le=100, description="batches awaiting PUBACK, at most")
    status_interval: float = Field(60.0, ge=1, le=3600, description="status refresh, seconds")
    health_interval: float = Field(
        60.0, ge=0, le=86_400, description="seconds between gateway_health readings, 0 = none"
    )
    replay_rate: float = Field(
        DEFAULT_REPLAY_RATE,
        gt=0,
        le=100_000,
        description="readings/s at most when replaying the backlog after an outage",
    )
    encoding: Literal["json", "compact"] = Field(
        "json", description="batch payload encoding (compact: binary, for paid links)"
    )

    @field_validator("health_interval")
    @classmethod
    def _health_interval(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (no gateway_health readings) or at least 1 second")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding_available(cls, value: str) -> str:
        try:
            encode_batch(_PROBE, value)  # type: ignore[arg-type]
        except NotImplementedError:
            raise ValueError(f"encoding {value!r} is not implemented in this version") from None
        return value


class SpoolSection(_Section):
    """The on-disk spool that keeps readings until the broker has them."""

    path: ConfigPath | None = Field(
        None, description="the spool file; default /var/lib/jagajalan/<id>/spool.sqlite"
    )
    max_readings: int = Field(1_000_000, ge=1, le=100_000_000, description="spool bound")
    fsync_interval: float = Field(
        1.0, ge=0, le=60, description="seconds between fsyncs of new readings, 0 = every append"
    )


class GatewayConfig(_Section):
    """The whole gateway config file. Build it with :func:`load_gateway_config`."""

    gateway: GatewaySection
    mqtt: MqttSection = Field(default_factory=MqttSection)
    publish: PublishSection = Field(default_factory=PublishSection)
    spool: SpoolSection = Field(default_factory=SpoolSection)
    devices: list[SerializeAsAny[DeviceConfig]] = Field(
        min_length=1, description="the devices, one [[devices]] table each"
    )

    @field_validator("devices")
    @classmethod
    def _unique_ids(cls, devices: list[DeviceConfig]) -> list[DeviceConfig]:
        seen: dict[str, int] = {}
        for i, device in enumerate(devices):
            if device.id in seen:
                raise ValueError(
                    f"duplicate device id {device.id!r}: devices[{seen[device.id]}] and "
                    f"devices[{i}]"
                )
            seen[device.id] = i
        return devices

    @model_validator(mode="after")
    def _default_spool(self) -> GatewayConfig:
        if self.spool.path is None:
            self.spool.path = DEFAULT_SPOOL_DIR / self.gateway.id / "spool.sqlite"
        return self

    @property
    def spool_path(self) -> Path:
        assert self.spool.path is not None
        return self.spool.path

    @classmethod
    def for_drivers(
        cls, drivers: dict[str, tuple[type[DeviceConfig], type[Driver]]]
    ) -> type[GatewayConfig]:
        """This model with ``devices`` as the union of the config models of *drivers*."""
        return _model_for(tuple((name, entry[0]) for name, entry in sorted(drivers.items())))


def _driver_tag(value: Any) -> str | None:
    name = value.get("driver") if isinstance(value, dict) else getattr(value, "driver", None)
    return f"driver[{name}]" if isinstance(name, str) else None


@lru_cache(maxsize=8)
def _model_for(members: tuple[tuple[str, type[DeviceConfig]], ...]) -> type[GatewayConfig]:
    known = ", ".join(name for name, _ in members)
    # The tags contain "[" so that kernel.config.validate drops them from error locations.
    variants = tuple(Annotated[model, Tag(f"driver[{name}]")] for name, model in members)
    device = Annotated[
        Union[variants],  # noqa: UP007 (a runtime tuple of types cannot use the | syntax)
        Discriminator(
            _driver_tag,
            custom_error_type="unknown_driver",
            custom_error_message=f"{UNKNOWN_DRIVER} (known drivers: {known})",
        ),
    ]
    return create_model(
        "GatewayConfig",
        __base__=GatewayConfig,
        devices=(list[device], GatewayConfig.model_fields["devices"]),  # type: ignore[valid-type]
    )


def load_gateway_config(
    path: str | Path,
    drivers: dict[str, tuple[type[DeviceConfig], type[Driver]]] | None = None,
) -> GatewayConfig:
    """Load and check a gateway config file; raise :class:`ConfigError` listing every problem.

    *drivers* defaults to :data:`gateway.devices.DRIVERS` as it is at call time.
    """
    if drivers is None:
        drivers = _drivers.DRIVERS
    path = Path(path)
    data = load_toml(_Document, path).model_dump()  # file and TOML syntax errors
    problems = duplicate_ids(data)
    try:
        config = validate(GatewayConfig.for_drivers(drivers), data, path)
    except ConfigError as exc:
        refined = refine(exc.problems, data, exc.texts)
        raise ConfigError(path, [*refined, *problems]) from None
    # Devices sharing one serial port must agree on its settings (Modbus buses only).
    problems += bus_problems(config.devices)
    if problems:
        raise ConfigError(path, problems)
    _warn_about_security(path, config.mqtt)
    return config


class _Document(BaseModel):
    """Any TOML document: used to reuse load_toml's file and syntax error reporting."""

    model_config = ConfigDict(extra="allow")


def _warn_about_security(path: Path, mqtt: MqttSection) -> None:
    """Warnings (not errors) about secrets that others can read or that cross in clear text."""
    for key in ("password_file", "keyfile"):
        secret = getattr(mqtt, key)
        if secret is None:
            continue
        mode = secret.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "%s: mqtt.%s %s can be read by group or others (mode %03o); run chmod 600 %s",
                path,
                key,
                secret,
                stat.S_IMODE(mode),
                secret,
            )
    if mqtt.username is not None and mqtt.password_file is not None and not mqtt.tls:
        log.warning(
            "%s: mqtt.url = %r has no TLS: the password of user %s crosses the network in clear "
            "text; use mqtts:// outside a trusted network",
            path,
            mqtt.url,
            mqtt.username,
        )
