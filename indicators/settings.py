"""Settings of ``jagajalan analytics run`` and ``jagajalan analytics backfill``.

Loaded like every service's settings (:func:`kernel.settings.load`): the command line wins,
else ``JAGAJALAN_<OPTION>``, else the default; secrets only from files or the environment.
The job reads and writes: on InfluxDB it logs in as its own user, ``jagajalan_analytics``
unless ``--influx-username`` says otherwise, which ``jagajalan store setup
--analytics-password-file`` creates with ALL (READ and WRITE) on the database and nothing
more (store.privileges). Without ``--influx-url`` it uses the embedded SQLite store
(``--sqlite``), as ``make demo`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from kernel.fields import InfluxLink, ReadableFile, Rule, SettingsGroup, UtcTime, given
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink
from store.privileges import SERVICES

if TYPE_CHECKING:
    from indicators.config import IndicatorsConfig
    from store import Store

#: store.DEFAULT_SQLITE_PATH (tests/indicators holds them equal); the store is imported only
#: when the job runs, so that building the command line stays fast.
DEFAULT_SQLITE_PATH = "./var/jagajalan.sqlite"


#: The job's InfluxDB user (store.privileges): what a password logs in as by default.
ANALYTICS_USER = SERVICES["analytics"].default_username


class JobInfluxLink(InfluxLink):
    default_influx_username: ClassVar[str | None] = ANALYTICS_USER

    influx_username: str | None = Field(
        None,
        min_length=1,
        description=f"InfluxDB 1.x username; unset: {ANALYTICS_USER} (with a password)",
    )


class JobStore(SettingsGroup):
    group: ClassVar[str] = "store"

    sqlite: str | None = Field(
        None,
        min_length=1,
        description="path of the embedded SQLite store, used when no --influx-url is given; "
        f"unset: {DEFAULT_SQLITE_PATH}",
        json_schema_extra={"metavar": "PATH"},
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if given(values, "influx_url") and given(values, "sqlite"):
            return [(("influx_url", "sqlite"), "give one of the two, not both")]
        return []

    def open_store(self) -> Store:
        from store import open_store

        link: Any = self
        secrets = link.influx_secrets()
        return open_store(
            influx_url=link.influx_url,
            influx_db=link.influx_db,
            influx_token=secrets["token"],
            influx_username=secrets["username"],
            influx_password=secrets["password"],
            sqlite_path=None if link.influx_url else (self.sqlite or DEFAULT_SQLITE_PATH),
        )


class JobFile(SettingsGroup):
    group: ClassVar[str] = "indicators"

    config: ReadableFile | None = Field(
        None,
        description="the job's TOML file (site parameters, windows; docs/configuration.md); "
        "unset: every default",
        json_schema_extra={"metavar": "PATH"},
    )

    def indicators(self) -> IndicatorsConfig:
        from indicators.config import IndicatorsConfig
        from kernel.config import load_toml

        if self.config is None:
            return IndicatorsConfig()
        return load_toml(IndicatorsConfig, self.config)


class Schedule(SettingsGroup):
    group: ClassVar[str] = "schedule"

    every: float = Field(60.0, ge=1, le=3600, description="seconds between passes")
    lookback: int = Field(
        7200,
        ge=3600,
        le=604_800,
        description="seconds of past windows recomputed on each pass (late readings count)",
    )


class JobClock(SettingsGroup):
    group: ClassVar[str] = "clock"

    clock: Literal["wall", "data", "scenario"] = Field(
        "wall",
        description="what now is: wall (this machine's clock), data (the newest reading's "
        "time in the store: readings from the past), scenario (a scenario played faster, "
        "the demo: --scenario-start, --scenario-origin, --scenario-speed)",
    )
    scenario_start: UtcTime | None = Field(
        None,
        description="--clock scenario: the scenario time the readings begin at",
        json_schema_extra={"metavar": "TIME"},
    )
    scenario_origin: UtcTime | None = Field(
        None,
        description="--clock scenario: the real time the scenario began to play",
        json_schema_extra={"metavar": "TIME"},
    )
    scenario_speed: float | None = Field(
        None, gt=0, le=100_000, description="--clock scenario: scenario seconds per real second"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        names = ("scenario_start", "scenario_origin", "scenario_speed")
        if values.get("clock") == "scenario":
            missing = tuple(n for n in names if not given(values, n))
            return [(missing, "--clock scenario needs it")] if missing else []
        extra = tuple(n for n in names if given(values, n))
        return [(extra, "only with --clock scenario")] if extra else []

    def now_ms(self, reader: Any) -> Any:
        """The job's "now" (indicators.job.run's *now_ms*); None: the machine's clock."""
        from indicators import clock

        if self.clock == "data":
            return lambda: clock.newest_reading_ms(reader)
        if self.clock == "scenario":
            return self.scenario_time().now_ms
        return None

    def scenario_time(self) -> Any:
        from indicators.clock import ScenarioTime

        assert self.scenario_start is not None and self.scenario_origin is not None
        assert self.scenario_speed is not None
        return ScenarioTime(self.scenario_start, self.scenario_origin, self.scenario_speed)


class Span(SettingsGroup):
    group: ClassVar[str] = "window"

    start: UtcTime = Field(description="start of the range", json_schema_extra={"metavar": "TIME"})
    end: UtcTime = Field(
        description="end of the range, exclusive", json_schema_extra={"metavar": "TIME"}
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        from kernel.fields import utc_ms

        try:
            start, end = utc_ms(values.get("start")), utc_ms(values.get("end"))
        except ValueError:
            return []  # reported for the field itself
        if given(values, "start") and given(values, "end") and start >= end:
            return [(("end",), "must be after --start")]
        return []


class Monitoring(SettingsGroup):
    group: ClassVar[str] = "monitoring"

    metrics_port: int = Field(
        0,
        ge=0,
        le=65_535,
        description="Prometheus /metrics port (on every address), 0 = off",
    )


class AnalyticsRunSettings(
    ServiceSettings, JobInfluxLink, JobStore, JobFile, RegistryLink, Schedule, Monitoring, JobClock
):
    command: ClassVar[str] = "jagajalan analytics run"


class AnalyticsBackfillSettings(
    ServiceSettings, JobInfluxLink, JobStore, JobFile, RegistryLink, Span
):
    command: ClassVar[str] = "jagajalan analytics backfill"
