"""The time-series store: InfluxDB in production, SQLite embedded.

Services hold one of its two interfaces (``base.StoreReader`` for the API and alerts,
``base.StoreWriter`` for ingest), opened with :func:`open_reader` / :func:`open_writer` and
credentials that carry only that privilege; ``jagajalan store setup`` (``store.setup``) makes
the database, retention policies, continuous queries and the users (``store.privileges``).
"""

from __future__ import annotations

from typing import Any

from store.base import (
    GatewaySeen,
    LatestValue,
    SeriesQuery,
    SeriesRefused,
    SeriesRow,
    Store,
    StoreAuthFailed,
    StoreError,
    StoreNotReady,
    StoreReader,
    StoreRejected,
    StoreUnavailable,
    StoreWriter,
)

#: Where the embedded SQLite store lives when no path is given (relative to the working dir).
DEFAULT_SQLITE_PATH = "./var/jagajalan.sqlite"

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "GatewaySeen",
    "LatestValue",
    "SeriesQuery",
    "SeriesRefused",
    "SeriesRow",
    "Store",
    "StoreAuthFailed",
    "StoreError",
    "StoreNotReady",
    "StoreReader",
    "StoreRejected",
    "StoreUnavailable",
    "StoreWriter",
    "open_reader",
    "open_store",
    "open_writer",
]


def open_store(
    influx_url: str | None = None,
    influx_db: str = "jagajalan",
    influx_token: str | None = None,
    influx_username: str | None = None,
    influx_password: str | None = None,
    sqlite_path: str | None = None,
    influx_timeout: float = 10.0,
) -> Store:
    """The InfluxDB store when *influx_url* is given, else the SQLite store at *sqlite_path*.

    Nothing is contacted or created here: call ``check_read()`` / ``check_write()`` on the
    result. Backends are imported lazily so that a process only loads the one it uses.
    """
    if influx_url:
        if sqlite_path:
            raise ValueError("give either influx_url or sqlite_path, not both")
        from store.influx import InfluxStore

        return InfluxStore(
            influx_url,
            influx_db,
            token=influx_token,
            username=influx_username,
            password=influx_password,
            timeout=influx_timeout,
        )
    from store.sqlite import SQLiteStore

    return SQLiteStore(sqlite_path or DEFAULT_SQLITE_PATH)


def open_reader(**options: Any) -> StoreReader:
    """:func:`open_store` seen through the read interface: what the API and alerts hold."""
    return open_store(**options)


def open_writer(**options: Any) -> StoreWriter:
    """:func:`open_store` seen through the write interface: what ingest holds."""
    return open_store(**options)
