"""Settings of ``jagajalan alerts ...``: from the command line, else ``JAGAJALAN_*``.

``alerts run`` reaches the broker (:class:`kernel.fields.MqttLink`: its own user, which may
read every gateway's readings and status and nothing else) and the registry's database
(:class:`registry.settings.RegistryLink`: sites, contacts, the alerts, silences and lease).
The rules come from ``--rules-file`` (examples/alerts.toml). ``alerts ack`` and ``alerts list``
need only the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from alerts.delivery.settings import Channels, Sending
from kernel.fields import ClientId, InfluxLink, MqttLink, ReadableFile, Rule, SettingsGroup, given
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink
from store.privileges import SERVICES

#: The service's InfluxDB user (store.privileges: ALL): what a password logs in as by default.
ALERTS_USER = SERVICES["alerts"].default_username


class IndicatorsStore(InfluxLink):
    """Where the indicators job's measurements are read (rules on ISPU, traffic, flood
    status) and the active alerts' gauge is written (alerts/gauge.py): InfluxDB as the alerts
    user (store.privileges: ALL on the database), or the embedded SQLite store."""

    group: ClassVar[str] = "indicators store"
    default_influx_username: ClassVar[str | None] = ALERTS_USER

    influx_username: str | None = Field(
        None, min_length=1, description=f"InfluxDB 1.x username; unset: {ALERTS_USER}"
    )
    sqlite: str | None = Field(
        None,
        min_length=1,
        description="the embedded SQLite store (make demo), read when no --influx-url is given",
        json_schema_extra={"metavar": "PATH"},
    )
    indicators_every: float = Field(
        30.0, ge=1, le=3600, description="seconds between reads of the indicators' new points"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "influx_url") and given(values, "sqlite"):
            return [(("influx_url", "sqlite"), "give one of the two, not both")]
        return []

    def open_indicators(self) -> Any:
        """The store (read: the indicators; write: the gauge), or None when neither is given
        (rules on indicators then never fire and no gauge is written: logged at start)."""
        if not self.influx_url and not self.sqlite:
            return None
        from store import open_store

        secrets = self.influx_secrets()
        return open_store(
            influx_url=self.influx_url,
            influx_db=self.influx_db,
            influx_token=secrets["token"],
            influx_username=secrets["username"],
            influx_password=secrets["password"],
            sqlite_path=None if self.influx_url else self.sqlite,
        )


class RulesFile(SettingsGroup):
    group: ClassVar[str] = "rules"

    rules_file: ReadableFile = Field(
        description="the alert rules (TOML: examples/alerts.toml)",
        json_schema_extra={"metavar": "PATH"},
    )


class Evaluation(SettingsGroup):
    group: ClassVar[str] = "evaluation"

    every: float = Field(
        10.0, ge=0.2, le=300, description="seconds between evaluations (absence, reminders)"
    )
    lease_ttl: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="seconds after which a silent acting instance is replaced by another",
    )
    client_id: ClientId | None = Field(
        None, description="MQTT client id; unset: <mqtt-username or alerts>.<random>"
    )
    poll_s: float = Field(1.0, gt=0, le=60, description="seconds between the sender's passes")


class AlertsRunSettings(
    ServiceSettings,
    MqttLink,
    RegistryLink,
    RulesFile,
    Evaluation,
    IndicatorsStore,
    Channels,
    Sending,
):
    command: ClassVar[str] = "jagajalan alerts run"

    def rules_path(self) -> Path:
        return Path(self.rules_file)


class AlertsRegistrySettings(ServiceSettings, RegistryLink):
    command: ClassVar[str] = "jagajalan alerts"
