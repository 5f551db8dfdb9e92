"""Settings of ``jagajalan ingest run``: one model.

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
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from kernel.fields import ClientId, InfluxLink, MqttLink, Rule, SettingsGroup, given
from kernel.schema import Allowed
from kernel.settings import ServiceSettings

if TYPE_CHECKING:
    from ingest.service import IngestSettings
    from store import StoreWriter


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


class Writing(SettingsGroup):
    group: ClassVar[str] = "writing"

    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="write when this many wait")
    max_delay: float = Field(
        0.2, ge=0.001, le=60, description="...or when the oldest waited this many seconds"
    )
    retry_max_delay: float = Field(
        5.0, ge=0.01, le=3600, description="longest pause between write retries, seconds"
    )
    max_attempts: int = Field(
        5,
        ge=1,
        le=1000,
        description="attempts at points the store keeps refusing for a reason neither transient "
        "nor about the points (e.g. HTTP 413) before they are dead-lettered as store_refused",
    )
    parallel_writes: int = Field(
        3,
        ge=1,
        le=16,
        description="InfluxDB writes in flight at once, one HTTP connection each, "
        "acknowledged in order",
    )
    drain_timeout: float = Field(
        10.0, ge=0, le=3600, description="at shutdown, retry the last writes this long, seconds"
    )
    metrics_port: int = Field(0, ge=0, le=65_535, description="Prometheus /metrics port, 0 = off")
    max_buffer_mb: float = Field(
        10,
        ge=0,
        le=65_536,
        description="most MB of messages held unacknowledged (their lines, about); then "
        "reading waits for writes to free some; 0: bounded by --max-inflight messages only",
    )
    paho_speedup: bool = Field(
        True,
        description="use ingest/paho_speedup.py (faster reads, acks and property decoding, "
        "checked against paho-mqtt 2.2.0); off: paho as shipped, to compare (make bench)",
    )
    leave: float | None = Field(
        None,
        ge=0.1,
        le=3600,
        description="retire this worker (its --client-id): unsubscribe, write what its "
        "session still holds, end the session after this many idle seconds, exit",
    )


class IngestRunSettings(ServiceSettings, MqttLink, Worker, InfluxLink, StoreChoice, Writing):
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
            max_attempts=self.max_attempts,
            parallel_writes=self.parallel_writes,
            drain_timeout=self.drain_timeout,
            metrics_port=self.metrics_port,
            leave_after_idle=self.leave,
            paho_speedup=self.paho_speedup,
            max_buffer_bytes=int(self.max_buffer_mb * 1024 * 1024),
        )

    def open_store(self) -> StoreWriter:
        """The store, write-only: the worker's user needs WRITE and nothing else."""
        from store import open_writer  # imported on use: `jagajalan --help` stays fast

        if self.sqlite:
            return open_writer(sqlite_path=self.sqlite)  # the embedded store: it makes its file
        secrets = self.influx_secrets()
        return open_writer(
            influx_url=self.influx_url,
            influx_db=self.influx_db,
            influx_token=secrets["token"],
            influx_username=secrets["username"],
            influx_password=secrets["password"],
            influx_timeout=self.influx_timeout,
        )
