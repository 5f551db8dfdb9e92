"""Settings of ``jagajalan ingest run`` and ``ingest backfill``: one model each.

Built from the shared groups of :mod:`kernel.fields` (:class:`~kernel.fields.MqttLink`,
:class:`~kernel.fields.InfluxLink`) and loaded by :func:`kernel.settings.load`: the command
line wins, else ``JAGAJALAN_<OPTION>``, else the default; secrets only from files or the
environment; every problem reported at once, naming the option or variable, the value and
what is allowed. The same models give ``--help`` and docs/configuration.md.

A worker's MQTT client id is stable by construction: ``--client-id`` when given, else the
broker username (else ``ingest``), never derived from the host name (a container's host name
changes on every re-creation, and the broker would keep feeding the old, dead session).
Workers that share the load (``--shared-group``) must each be given their own id
(``ingest.1``, ``ingest.2``, ...: docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from kernel.fields import ClientId, InfluxLink, MqttLink, Rule, SettingsGroup, given
from kernel.schema import Allowed
from kernel.settings import ServiceSettings

if TYPE_CHECKING:
    from ingest.service import IngestSettings
    from store.base import Store
    from store.influx import InfluxStore


def _retention(value: str) -> str:
    from store.retention import duration_seconds  # not at import: `jagajalan --help` stays fast

    if duration_seconds(value) < 3600:  # raises ValueError naming the allowed form
        raise ValueError("InfluxDB keeps data at least 1h: use 1h or more")
    return value


RetentionDuration = Annotated[
    str,
    AfterValidator(_retention),
    Allowed("an InfluxQL duration of at least 1h, e.g. 90d or 2w, or INF for ever"),
]


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
ShareName = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._-]{1,64}$"),
    Allowed("1 to 64 letters, digits, '.', '_' or '-'"),
]


class Worker(SettingsGroup):
    group: ClassVar[str] = "MQTT"

    client_id: ClientId | None = Field(
        None,
        description="this worker's own, stable MQTT client id (the broker keeps its session): "
        "ingest.1, ingest.2, ... for workers of user ingest; unset: the broker username, "
        "else ingest",
    )
    shared_group: ShareName | None = Field(
        None,
        description="share the readings with the other workers of this group "
        "($share/<group>/...); needs --client-id",
    )
    max_inflight: int = Field(
        10_000, ge=1, le=65_535, description="most unacknowledged messages held (Receive Maximum)"
    )
    session_expiry: int = Field(
        7 * 86_400, ge=1, le=2**32 - 1, description="seconds the broker keeps our session"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "shared_group") and not given(values, "client_id"):
            message = (
                "workers of a shared group each need their own stable client id, or the broker "
                "keeps dealing messages to a session nobody resumes: give this one "
                "--client-id, e.g. ingest.1 (docs/scaling.md)"
            )
            return [(("client_id",), message)]
        return []


class StoreChoice(SettingsGroup):
    group: ClassVar[str] = "store"

    sqlite: str | None = Field(
        None,
        min_length=1,
        description="path of the embedded SQLite store, instead of InfluxDB",
        json_schema_extra={"metavar": "PATH"},
    )
    influx_timeout: float = Field(
        10.0, ge=0.1, le=600, description="seconds to wait for an InfluxDB answer before retrying"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "influx_url") == given(values, "sqlite"):
            return [(("influx_url", "sqlite"), "give exactly one of the two")]
        return []


class Retention(SettingsGroup):
    group: ClassVar[str] = "retention and rollups (InfluxDB; see docs/scaling.md)"

    retention: Literal["on", "off"] = Field(
        "on",
        description="on: ensure retention policies and rollups at start; off: leave the "
        "database as it is",
    )
    raw_retention: RetentionDuration = Field(
        "90d", description="keep raw points this long", json_schema_extra={"metavar": "DURATION"}
    )
    rollup_1m_retention: RetentionDuration = Field(
        "730d",
        description="keep 1-minute rollups this long",
        json_schema_extra={"metavar": "DURATION"},
    )
    rollup_1h_retention: RetentionDuration = Field(
        "INF",
        description="keep 1-hour rollups this long",
        json_schema_extra={"metavar": "DURATION"},
    )


class Writing(SettingsGroup):
    group: ClassVar[str] = "writing"

    batch_size: int = Field(5000, ge=1, le=1_000_000, description="write when this many wait")
    max_delay: float = Field(
        0.2, ge=0.001, le=60, description="...or when the oldest waited this many seconds"
    )
    retry_max_delay: float = Field(
        5.0, ge=0.01, le=3600, description="longest pause between write retries, seconds"
    )
    parallel_writes: int = Field(
        2,
        ge=1,
        le=16,
        description="InfluxDB writes in flight at once, one HTTP connection each, "
        "acknowledged in order",
    )
    drain_timeout: float = Field(
        10.0, ge=0, le=3600, description="at shutdown, retry the last writes this long, seconds"
    )
    metrics_port: int = Field(0, ge=0, le=65_535, description="Prometheus /metrics port, 0 = off")
    leave: float | None = Field(
        None,
        ge=0.1,
        le=3600,
        description="retire this worker (its --client-id): unsubscribe, write what its "
        "session still holds, end the session after this many idle seconds, exit",
    )


class IngestRunSettings(
    ServiceSettings, MqttLink, Worker, InfluxLink, StoreChoice, Retention, Writing
):
    command: ClassVar[str] = "jagajalan ingest run"

    @property
    def effective_client_id(self) -> str:
        return self.client_id or self.mqtt_username or "ingest"

    def service_settings(self) -> IngestSettings:
        from ingest.service import IngestSettings, MqttSettings

        mqtt = MqttSettings(
            url=self.broker_url,
            client_id=self.effective_client_id,
            protocol=self.mqtt_protocol,
            ca_file=str(self.ca_file) if self.ca_file else None,
            username=self.mqtt_username,
            password=self.mqtt_password.get_secret_value() if self.mqtt_password else None,
            shared_group=self.shared_group,
            session_expiry=self.session_expiry,
            max_inflight=self.max_inflight,
        )
        return IngestSettings(
            mqtt=mqtt,
            batch_size=self.batch_size,
            max_delay=self.max_delay,
            retry_max_delay=self.retry_max_delay,
            parallel_writes=self.parallel_writes,
            drain_timeout=self.drain_timeout,
            metrics_port=self.metrics_port,
            leave_after_idle=self.leave,
        )

    def open_store(self) -> Store:
        if self.sqlite:
            from store.sqlite import SQLiteStore  # the embedded store, imported on use

            return SQLiteStore(self.sqlite)
        from store.retention import RetentionSettings

        retention = None
        if self.retention == "on":
            retention = RetentionSettings(
                raw=self.raw_retention,
                rollup_1m=self.rollup_1m_retention,
                rollup_1h=self.rollup_1h_retention,
            )
        return influx_store(self, timeout=self.influx_timeout, retention=retention)


def influx_store(settings: InfluxLink, **kwargs: Any) -> InfluxStore:
    from store.influx import InfluxStore

    assert settings.influx_url is not None
    return InfluxStore(
        settings.influx_url, settings.influx_db, **settings.influx_secrets(), **kwargs
    )


class Window(SettingsGroup):
    group: ClassVar[str] = "window"

    start: UtcTime = Field(description="start of the window", json_schema_extra={"metavar": "TIME"})
    end: UtcTime = Field(
        description="end of the window, exclusive", json_schema_extra={"metavar": "TIME"}
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        out: list[Rule] = []
        if not given(values, "influx_url"):
            out.append((("influx_url",), "required: rollups live in InfluxDB"))
        try:
            start, end = utc_ms(values.get("start")), utc_ms(values.get("end"))
        except ValueError:
            return out  # reported for the field itself
        if given(values, "start") and given(values, "end") and start >= end:
            out.append((("end",), "must be after --start"))
        return out


class BackfillSettings(ServiceSettings, InfluxLink, Window):
    command: ClassVar[str] = "jagajalan ingest backfill"
