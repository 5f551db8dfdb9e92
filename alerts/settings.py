"""Settings of ``jagajalan alerts ...``: from the command line, else ``JAGAJALAN_*``.

``alerts run`` reaches the broker (:class:`kernel.fields.MqttLink`: its own user, which may
read every gateway's readings and status and nothing else) and the registry's database
(:class:`registry.settings.RegistryLink`: sites, contacts, the alerts, silences and lease).
The rules come from ``--rules-file`` (examples/alerts.toml). ``alerts ack`` and ``alerts list``
need only the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from alerts.delivery.settings import Channels, Sending
from kernel.fields import ClientId, MqttLink, ReadableFile, SettingsGroup
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink


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
    ServiceSettings, MqttLink, RegistryLink, RulesFile, Evaluation, Channels, Sending
):
    command: ClassVar[str] = "jagajalan alerts run"

    def rules_path(self) -> Path:
        return Path(self.rules_file)


class AlertsRegistrySettings(ServiceSettings, RegistryLink):
    command: ClassVar[str] = "jagajalan alerts"
