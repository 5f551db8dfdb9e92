"""A throw-away PostgreSQL database for tests, on the machine's PostgreSQL.

The server is the one on 127.0.0.1:5432 (``JAGAJALAN_TEST_POSTGRES`` overrides host:port), user
``postgres`` with trust authentication on loopback; :func:`throwaway` creates a database
``jagajalan_test_<random>`` and drops it (closing any connection left) when done.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    database: str

    @property
    def url(self) -> str:
        """The form ``--registry-url`` takes (no credentials)."""
        return f"postgresql://{self.host}:{self.port}/{self.database}"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"


def _admin(host: str, port: int, user: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True)


@contextmanager
def throwaway(user: str = "postgres") -> Iterator[Postgres]:
    address = os.environ.get("JAGAJALAN_TEST_POSTGRES", "127.0.0.1:5432")
    host, _, port = address.rpartition(":")
    name = f"jagajalan_test_{secrets.token_hex(6)}"
    with _admin(host, int(port), user) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Postgres(host, int(port), user, name)
    finally:
        with _admin(host, int(port), user) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
