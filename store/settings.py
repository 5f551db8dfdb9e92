"""Settings of ``jagajalan store setup`` and ``jagajalan store backfill``: one model each.

Built from the shared pieces of :mod:`kernel.fields` and loaded by :func:`kernel.settings.load`
like every service's settings: the command line wins, else ``JAGAJALAN_<OPTION>``, else the
default; secrets only from files or the environment; every problem reported at once, naming
the option or variable, the value and what is allowed. The same models give ``--help`` and
docs/configuration.md.

The service users' options (``--<service>-username``, ``--<service>-password-file``) are made
from :data:`store.privileges.SERVICE_USERS`, the one table of who may do what.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, SecretStr, create_model

from kernel.fields import InfluxLink, InfluxUrl, Rule, Secret, SettingsGroup, UtcTime, given
from kernel.schema import Allowed
from kernel.settings import ServiceSettings
from store.privileges import SERVICE_USERS

if TYPE_CHECKING:
    from store.retention import RetentionSettings
    from store.setup import UserSpec


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
DatabaseName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$"), Allowed("1 to 64 letters, digits, _ or -")
]


class Target(SettingsGroup):
    group: ClassVar[str] = "InfluxDB"

    influx_url: InfluxUrl | None = Field(
        None, description="InfluxDB base URL, e.g. http://127.0.0.1:8086 (required)"
    )
    influx_db: DatabaseName = Field("jagajalan", description="the JagaJalan database")
    influx_timeout: float = Field(
        10.0, ge=0.1, le=600, description="seconds to wait for each answer"
    )
    wait: float = Field(
        0.0, ge=0, le=3600, description="wait this many seconds for InfluxDB to answer first"
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        if not given(values, "influx_url"):
            return [(("influx_url",), "required: the InfluxDB to set up")]
        return []


class AdminLogin(SettingsGroup):
    group: ClassVar[str] = "admin credentials (InfluxDB 1.x user, or a 2.x/3.x token)"

    admin_username: str | None = Field(None, min_length=1, description="an InfluxDB admin user")
    # Not a `Secret`: a default admin password is warned about (it is InfluxDB's, set at its
    # first start), not refused, so that set-up can still make the service users safe.
    admin_password: SecretStr | None = Field(None, description="the admin's password")
    admin_token: Secret | None = Field(None, description="InfluxDB 2.x/3.x token")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        token, user = given(values, "admin_token"), given(values, "admin_username")
        password = given(values, "admin_password")
        if token and (user or password):
            return [(("admin_token", "admin_username"), "give a token or a user, not both")]
        if user and not password:
            return [(("admin_password",), "--admin-username needs a password file")]
        if password and not user:
            return [(("admin_username",), "a password needs --admin-username")]
        return []


class Retention(SettingsGroup):
    group: ClassVar[str] = "retention (see docs/scaling.md)"

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
        description="keep 1-hour rollups this long (INF: for ever)",
        json_schema_extra={"metavar": "DURATION"},
    )

    def retention(self) -> RetentionSettings:
        from store.retention import RetentionSettings

        return RetentionSettings(
            raw=self.raw_retention,
            rollup_1m=self.rollup_1m_retention,
            rollup_1h=self.rollup_1h_retention,
        )


def _user_rules(cls: type, values: Mapping[str, Any]) -> list[Rule]:
    out: list[Rule] = []
    seen: dict[str, str] = {}
    for user in SERVICE_USERS:
        s = user.service
        if not given(values, f"{s}_password"):
            continue
        if given(values, "admin_token"):
            out.append(((f"{s}_password",), "InfluxDB 2.x/3.x have no users: make tokens"))
            continue
        name = values.get(f"{s}_username") or user.default_username
        if name == values.get("admin_username"):
            out.append(((f"{s}_username",), "is the admin: each service needs its own user"))
        elif name in seen:
            out.append(((f"{s}_username",), f"is also {seen[name]}'s: one user per service"))
        seen[name] = s
    return out


#: ``--<service>-username`` and ``--<service>-password-file`` for every service user.
ServiceUsers: type[SettingsGroup] = create_model(  # type: ignore[call-overload]
    "ServiceUsers",
    __base__=SettingsGroup,
    **{
        field: spec
        for user in SERVICE_USERS
        for field, spec in (
            (
                f"{user.service}_username",
                (
                    str,
                    Field(
                        user.default_username,
                        min_length=1,
                        description=f"{user.service}'s InfluxDB user",
                    ),
                ),
            ),
            (
                f"{user.service}_password",
                (
                    Secret | None,
                    Field(
                        None,
                        description=f"{user.service}'s password ({user.privilege}); the user "
                        "is set up only when this is given",
                    ),
                ),
            ),
        )
    },
)
ServiceUsers.group = "service users (each set up only when its password file is given)"
ServiceUsers.rules = classmethod(_user_rules)  # type: ignore[method-assign,assignment]


class DryRun(SettingsGroup):
    group: ClassVar[str] = "run"

    dry_run: bool = Field(False, description="print the statements (passwords masked) only")


class StoreSetupSettings(ServiceSettings, Target, AdminLogin, Retention, ServiceUsers, DryRun):  # type: ignore[misc,valid-type]
    command: ClassVar[str] = "jagajalan store setup"

    def admin_credentials(self) -> dict[str, str | None]:
        """username/password or token as plain values (all None: InfluxDB without auth)."""
        return {
            "username": self.admin_username,
            "password": self.admin_password.get_secret_value() if self.admin_password else None,
            "token": self.admin_token.get_secret_value() if self.admin_token else None,
        }

    def users(self) -> list[UserSpec]:
        from store.setup import UserSpec

        out = []
        for user in SERVICE_USERS:
            secret = getattr(self, f"{user.service}_password")
            if secret is not None:
                name = getattr(self, f"{user.service}_username")
                out.append(UserSpec(name, user.privilege, secret.get_secret_value()))
        return out


class Window(SettingsGroup):
    group: ClassVar[str] = "window"

    start: UtcTime = Field(description="start of the window", json_schema_extra={"metavar": "TIME"})
    end: UtcTime = Field(
        description="end of the window, exclusive", json_schema_extra={"metavar": "TIME"}
    )

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        from kernel.fields import utc_ms

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
    """A user with READ and WRITE on the database (or an admin)."""

    command: ClassVar[str] = "jagajalan store backfill"
