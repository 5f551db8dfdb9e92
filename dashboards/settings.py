"""Settings of ``jagajalan dashboards sites`` and ``jagajalan dashboards push``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from kernel.fields import InfluxLink, InfluxUrl, Secret, SettingsGroup
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink
from store.privileges import SERVICES

#: Who writes jagajalan_site: the indicators job's user (it already reads the registry and
#: writes derived measurements; store.privileges gives it ALL on the database).
WRITER = SERVICES["analytics"].default_username


class SitesInfluxLink(InfluxLink):
    default_influx_username: ClassVar[str | None] = WRITER

    influx_username: str | None = Field(
        None,
        min_length=1,
        description=f"InfluxDB 1.x username; unset: {WRITER} (with a password)",
    )

    def open_influx(self) -> Any:
        from store.influx import InfluxStore

        secrets = self.influx_secrets()
        return InfluxStore(
            self.influx_url or "http://127.0.0.1:8086",
            self.influx_db,
            token=secrets["token"],
            username=secrets["username"],
            password=secrets["password"],
        )


class GrafanaLink(SettingsGroup):
    """A running Grafana's HTTP API and a service account token that may write dashboards."""

    group: ClassVar[str] = "grafana"

    grafana_url: InfluxUrl = Field(
        "http://127.0.0.1:3000", description="Grafana's base URL, e.g. http://127.0.0.1:3000"
    )
    grafana_token: Secret | None = Field(
        None, description="Grafana service account token (role Editor or Admin)"
    )
    grafana_timeout: float = Field(10.0, gt=0, le=300, description="seconds per request")


class DashboardSitesSettings(ServiceSettings, SitesInfluxLink, RegistryLink):
    command: ClassVar[str] = "jagajalan dashboards sites"


class DashboardPushSettings(ServiceSettings, GrafanaLink):
    command: ClassVar[str] = "jagajalan dashboards push"
