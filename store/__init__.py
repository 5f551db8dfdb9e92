"""The time-series store: InfluxDB in production, SQLite embedded (see ``base.Store``)."""

from __future__ import annotations

from store.base import (
    GatewaySeen,
    LatestValue,
    Store,
    StoreAuthFailed,
    StoreError,
    StoreRejected,
    StoreUnavailable,
)

#: Where the embedded SQLite store lives when no path is given (relative to the working dir).
DEFAULT_SQLITE_PATH = "./var/jagajalan.sqlite"

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "GatewaySeen",
    "LatestValue",
    "Store",
    "StoreAuthFailed",
    "StoreError",
    "StoreRejected",
    "StoreUnavailable",
    "open_store",
]


def open_store(
    influx_url: str | None = None,
    influx_db: str = "jagajalan",
    influx_token: str | None = None,
    influx_username: str | None = None,
    influx_password: str | None = None,
    sqlite_path: str | None = None,
) -> Store:
    """The InfluxDB store when *influx_url* is given, else the SQLite store at *sqlite_path*.

    Nothing is contacted here: call ``ensure()`` or ``ping()`` on the result. Backends are
    imported lazily so that a process only loads the one it uses.
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
        )
    from store.sqlite import SQLiteStore

    return SQLiteStore(sqlite_path or DEFAULT_SQLITE_PATH)
