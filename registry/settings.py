"""Where the registry's database is: ``jagajalan registry`` options and ``JAGAJALAN_*``.

SQLite by default: the file ``--registry-db`` (one path rule, :data:`kernel.fields.ConfigPath`;
default ``var/registry.sqlite3`` in the working folder). PostgreSQL in production:
``--registry-url postgresql://host[:port]/database`` (no credentials in it, as every URL of
JagaJalan), the user in ``--registry-username`` and the password only from a file
(``--registry-password-file``, ``JAGAJALAN_REGISTRY_PASSWORD_FILE``) or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from kernel.fields import ConfigPath, Rule, Secret, SettingsGroup, given
from kernel.schema import Allowed
from kernel.settings import ServiceSettings
from kernel.text import TextError


def check_postgres_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise TextError("registry.err.url_form")
    if parts.username or parts.password:
        raise TextError("config.err.url_credentials")
    if parts.query or parts.fragment or not parts.path.strip("/") or "/" in parts.path[1:]:
        raise TextError("registry.err.url_form")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise TextError("config.err.url_port") from None
    return url


PostgresUrl = Annotated[
    str,
    AfterValidator(check_postgres_url),
    Allowed("postgresql://host[:port]/database; no credentials in it"),
]


class RegistryLink(SettingsGroup):
    """The registry's database: an SQLite file, or PostgreSQL."""

    group: ClassVar[str] = "registry database"

    registry_db: ConfigPath = Field(
        Path("var/registry.sqlite3"),
        description="the registry's SQLite file, used when no PostgreSQL URL is given",
        validate_default=True,  # the default too follows the one path rule: made absolute
    )
    registry_url: PostgresUrl | None = Field(
        None, description="PostgreSQL for production, e.g. postgresql://127.0.0.1:5432/jagajalan"
    )
    registry_username: str | None = Field(None, min_length=1, description="PostgreSQL user")
    registry_password: Secret | None = Field(None, description="PostgreSQL password")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[Rule]:
        out: list[Rule] = []
        if given(values, "registry_password") and not given(values, "registry_username"):
            out.append((("registry_username",), "a password needs a username"))
        if given(values, "registry_username") and not given(values, "registry_url"):
            out.append((("registry_url",), "a PostgreSQL user needs --registry-url"))
        return out

    def database_url(self) -> Any:
        """The SQLAlchemy URL (an ``sqlalchemy.URL``: its password never shows in a repr)."""
        from urllib.parse import urlsplit

        from sqlalchemy import URL

        if self.registry_url is None:
            return URL.create("sqlite+pysqlite", database=str(self.registry_db))
        parts = urlsplit(self.registry_url)
        password = self.registry_password
        return URL.create(
            "postgresql+psycopg",
            username=self.registry_username,
            password=password.get_secret_value() if password else None,
            host=parts.hostname,
            port=parts.port,
            database=parts.path.strip("/"),
        )


class RegistrySettings(RegistryLink, ServiceSettings):
    command: ClassVar[str] = "jagajalan registry"
