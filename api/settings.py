"""Settings of ``jagajalan api run``: from the command line, else ``JAGAJALAN_*`` variables.

One model (:class:`ApiSettings`) gives the options, their checks and their reference in
docs/configuration.md (:mod:`kernel.settings`). Every option ``--some-name`` can also come
from ``JAGAJALAN_SOME_NAME``; the command line wins. Secrets are never options: they come
from files (``--influx-token-file``, ``--influx-password-file`` or ``JAGAJALAN_*_FILE``) or
from ``JAGAJALAN_INFLUX_TOKEN`` / ``JAGAJALAN_INFLUX_PASSWORD``, are kept as
:class:`pydantic.SecretStr` (never in a repr or a log line), and empty or well-known default
secrets are refused, like every other mistake: all problems are reported at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from api.access import ApiAccess
from kernel.fields import BrokerUrl, CaFile, InfluxLink, Rule, SettingsGroup, given
from kernel.settings import ServiceSettings, load
from registry.settings import RegistryLink

if TYPE_CHECKING:
    from store import StoreReader

#: store.DEFAULT_SQLITE_PATH (a test holds them equal): the store package is imported only
#: when the API runs, so that building the command line (every `jagajalan` start) stays fast.
DEFAULT_SQLITE_PATH = "./var/jagajalan.sqlite"
#: --latest-refresh on InfluxDB when not given (seconds).
INFLUX_LATEST_REFRESH = 5.0


class HttpListen(SettingsGroup):
    group: ClassVar[str] = "HTTP"

    host: str = Field("127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(8000, ge=1, le=65_535, description="port to listen on")


class SqliteStore(SettingsGroup):
    group: ClassVar[str] = "store"

    sqlite: str | None = Field(
        None,
        min_length=1,
        description="path of the embedded SQLite store, read when no --influx-url is given; "
        f"unset: {DEFAULT_SQLITE_PATH}",
        json_schema_extra={"metavar": "PATH"},
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "influx_url") and given(values, "sqlite"):
            return [(("influx_url", "sqlite"), "give one of the two, not both")]
        return []


class BrokerHealth(SettingsGroup):
    group: ClassVar[str] = "health"

    broker_url: BrokerUrl | None = Field(
        None, description="MQTT broker checked by /health; unset: no broker check"
    )
    ca_file: CaFile = None
    broker_timeout: float = Field(
        2.0, ge=0.05, le=60, description="seconds the broker check may take"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "ca_file") and not str(values.get("broker_url") or "").startswith("mqtts"):
            return [(("ca_file", "broker_url"), "a CA file needs an mqtts:// broker URL")]
        return []


class MapTiles(SettingsGroup):
    """The overview page's map background (/peta): none by default, so the page asks no
    server but this one; the sites are drawn on a plain background either way."""

    group: ClassVar[str] = "overview page"

    map_tiles: str | None = Field(
        None,
        pattern=r"^https?://[^\s]*\{z\}[^\s]*$",
        description="tile server of the map on /peta, an XYZ URL template with {z}, {x} and {y} "
        "(e.g. a tile server in the office: http://tiles.local/{z}/{x}/{y}.png); "
        "unset: no tiles, the sites on a plain background with latitude and longitude",
        json_schema_extra={"metavar": "URL-TEMPLATE"},
    )
    map_attribution: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="the credit line the tile server asks for, shown on the map "
        '(e.g. "© OpenStreetMap contributors")',
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        tiles = str(values.get("map_tiles") or "")
        if tiles and not all(part in tiles for part in ("{z}", "{x}", "{y}")):
            return [(("map_tiles",), "the template needs {z}, {x} and {y}")]
        if given(values, "map_attribution") and not tiles:
            return [(("map_attribution", "map_tiles"), "a credit line needs --map-tiles")]
        return []


class LatestValues(SettingsGroup):
    group: ClassVar[str] = "latest values"

    latest_refresh: float | None = Field(
        None,
        ge=0,
        le=3600,
        description="seconds between reads of the latest values, gateways and indicators kept "
        "in memory: /readings/latest, /gateways and /sites/latest answer from them, at most "
        "this much older than the store; 0: every request reads the store; unset: "
        f"{INFLUX_LATEST_REFRESH:g} with --influx-url, 0 with SQLite (whose reads are cheap)",
        json_schema_extra={"metavar": "SECONDS"},
    )


class ApiSettings(
    ServiceSettings,
    HttpListen,
    InfluxLink,
    SqliteStore,
    BrokerHealth,
    RegistryLink,
    ApiAccess,
    MapTiles,
    LatestValues,
):
    command: ClassVar[str] = "jagajalan api run"

    @property
    def backend(self) -> str:
        return "influxdb" if self.influx_url else "sqlite"

    @property
    def latest_refresh_seconds(self) -> float:
        """--latest-refresh, else its default for the backend."""
        if self.latest_refresh is not None:
            return self.latest_refresh
        return INFLUX_LATEST_REFRESH if self.influx_url else 0.0

    def open_store(self) -> StoreReader:
        """The store, read-only: the API's user needs READ and nothing else."""
        from store import open_reader

        secrets = self.influx_secrets()
        return open_reader(
            influx_url=self.influx_url,
            influx_db=self.influx_db,
            influx_token=secrets["token"],
            influx_username=secrets["username"],
            influx_password=secrets["password"],
            sqlite_path=None if self.influx_url else (self.sqlite or DEFAULT_SQLITE_PATH),
        )

    def describe_store(self) -> str:
        """For the log: where the data comes from, never a secret."""
        if not self.influx_url:
            return f"SQLite {self.sqlite or DEFAULT_SQLITE_PATH}"
        auth = "token" if self.influx_token else f"user {self.influx_username or '(none)'}"
        return f"InfluxDB {self.influx_url} db={self.influx_db} auth={auth}"


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> ApiSettings:
    """Command-line options (else environment) -> settings. Raises
    :class:`kernel.settings.SettingsError` listing every problem; no secret ever appears in
    it."""
    return load(ApiSettings, args, env)
