"""The store's two interfaces, shared by the InfluxDB (production) and SQLite (embedded) backends.

- :class:`StoreWriter` is all that ingest (and later analytics) may use: write, and check that
  writing is possible. :class:`StoreReader` is all that the API, alerts and dashboards' tests
  may use: latest values, gateways, point queries, and check that reading is possible. A
  service holds one of the two, opened with credentials that carry only that privilege
  (``store.privileges``). :class:`Store` is both plus :meth:`Store.ensure`, a set-up action.
- Nothing here creates a database as a side effect: on InfluxDB the database, its retention
  policies, continuous queries and users are made by ``jagajalan store setup`` (an admin,
  once); a service that finds them missing is told so by :class:`StoreNotReady`.
- Both backends pass the same contract test suite (tests/store/test_contract.py). Points are
  identified by (measurement, tag set, time): writing the same point twice stores it once, the
  later field values winning, exactly as InfluxDB does.

A failed write is one of four kinds, and :func:`classify` is the one place that says which:

* ``transient`` (:class:`StoreUnavailable`): the store is down, slow, answering 5xx or
  throttling. Nothing is wrong with the data or the settings; retry, without limit.
* ``configuration`` (:class:`StoreMisconfigured`, :class:`StoreAuthFailed`): credentials
  refused, no write privilege, the database missing (`store setup` not run), a URL that is not the
  store's write endpoint. Every write fails the same way until a person fixes the settings;
  the data is fine.
* ``points`` (:class:`StoreRejected`): the store refused these points themselves (field type
  conflict, beyond the retention policy, unparsable). Retrying cannot help.
* ``refused`` (:class:`StoreRequestRefused`, and any exception that is not a store error):
  neither of the above, e.g. a request over the store's size limit or an answer nobody
  expected. Probably for good, but not the store's verdict on the points: worth a few tries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: `jagajalan --help` (store.cli) stays light
    from telemetry.mapping import Point


class StoreError(RuntimeError):
    """Base of store failures."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or did not answer in time; the write may be retried."""


class StoreRejected(StoreError):
    """The store refused the data itself (e.g. a field type conflict); retrying will not help."""


class StoreMisconfigured(StoreRejected):
    """The store refuses every write as this client is set up (database missing and not
    creatable, a URL that is not its write endpoint). The data itself is fine, so a writer
    retries later rather than dropping it. The message names the problem and the fix."""


class StoreAuthFailed(StoreMisconfigured):
    """The store refused the credentials or this user's privileges (HTTP 401/403)."""


class StoreRequestRefused(StoreRejected):
    """The store refused the request, not (as far as it says) the points in it: too large
    (HTTP 413), or a 4xx it has no business answering to a write."""


class Failure(StrEnum):
    TRANSIENT = "transient"
    CONFIGURATION = "configuration"
    POINTS = "points"
    REFUSED = "refused"


def classify(exc: BaseException) -> Failure:
    """The kind of a failed store call (see the module docstring)."""
    if isinstance(exc, StoreUnavailable):
        return Failure.TRANSIENT
    if isinstance(exc, StoreMisconfigured):
        return Failure.CONFIGURATION
    if isinstance(exc, StoreRequestRefused):
        return Failure.REFUSED
    if isinstance(exc, StoreRejected):
        return Failure.POINTS
    return Failure.REFUSED


#: What :class:`StoreNotReady` says is missing.
MISSING_DATABASE = "database"  # the database does not exist (InfluxDB: no `store setup` yet)
MISSING_LOGIN = "login"  # the store refused the login: no such user, or another password
MISSING_WRITE = "write"  # the user may not write to the database (WRITE privilege)
MISSING_READ = "read"  # the user may not read the database (READ privilege)


class StoreNotReady(StoreAuthFailed):
    """The store answers, but is not set up for this user: the database is missing, the login
    is refused, or the user lacks the privilege. ``jagajalan store setup`` fixes it; the data
    is fine, so a writer keeps it and retries (a :class:`StoreAuthFailed`, never dropped).

    Carries what is missing (one of the ``MISSING_*`` values), the database and the user
    (None with a token or without credentials), never a secret."""

    def __init__(self, message: str, *, missing: str, database: str, user: str | None) -> None:
        super().__init__(message)
        self.missing = missing
        self.database = database
        self.user = user


@dataclass(frozen=True)
class LatestValue:
    gateway: str
    sensor: str
    measurement: str
    tags: dict[str, str]  # the reading's own tags (lane, direction, vehicle_class), if any
    field: str
    value: float | int | str
    time_ms: int


@dataclass(frozen=True)
class GatewaySeen:
    gateway: str
    last_seen_ms: int | None  # send time of the newest batch received
    last_seq: int | None
    state: str | None  # "online"/"offline" from the newest status message
    state_time_ms: int | None


#: Aggregation windows of :meth:`StoreReader.series`: name -> milliseconds (InfluxQL spelling).
WINDOWS_MS = {"1m": 60_000, "1h": 3_600_000, "1d": 86_400_000}
#: Aggregates of :meth:`StoreReader.series`; all but ``count`` need a numeric field.
AGGREGATES = ("mean", "min", "max", "sum", "count")


class SeriesRefused(ValueError):
    """A series query the data cannot answer (e.g. the mean of a text field); the message
    names the field and the aggregate. Not a store failure: the request is wrong."""


@dataclass(frozen=True)
class SeriesQuery:
    """One field over a time window, raw or aggregated per window (see
    :meth:`StoreReader.series`). *tz* is an IANA zone without daylight saving and
    *offset_ms* its offset from UTC (the caller checks both): window starts are its midnights
    and hours. InfluxDB buckets with ``tz(<tz>)``, SQLite with *offset_ms*."""

    measurement: str
    field: str
    start_ms: int
    end_ms: int
    gateway: str | None = None
    sensor: str | None = None
    window: str | None = None  # None: raw points; else a key of WINDOWS_MS
    agg: str = "mean"
    tz: str = "Asia/Jakarta"
    offset_ms: int = 7 * 3_600_000


@dataclass(frozen=True)
class SeriesRow:
    """A raw value (with the series it comes from) or an aggregate of one window (the
    window's start; all matching series combined, so no gateway, sensor or tags)."""

    time_ms: int
    value: float | int | str | bool
    gateway: str | None = None
    sensor: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the reading's own tags (raw only)


class StoreWriter(ABC):
    """What a writing service uses (ingest): write points, check it may write."""

    @abstractmethod
    def write(self, points: Sequence[Point]) -> None:
        """Write points. Raises StoreUnavailable, StoreNotReady or StoreRejected. Never
        creates the database."""

    @abstractmethod
    def check_write(self) -> None:
        """Return if this store's user may write now; else raise StoreNotReady naming what is
        missing (database, login, WRITE privilege), or StoreUnavailable. Writes nothing."""

    @abstractmethod
    def ping(self) -> bool:
        """True if the store answers."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class StoreReader(ABC):
    """What a reading service uses (API, alerts): latest values, gateways, points (all, in a
    time window, or the newest of each series)."""

    @abstractmethod
    def latest(
        self, gateway: str | None = None, measurement: str | None = None
    ) -> list[LatestValue]:
        """Latest value of each field per (gateway, sensor, measurement, tags)."""

    @abstractmethod
    def gateways(self) -> list[GatewaySeen]:
        """Every gateway seen in batches or status messages."""

    @abstractmethod
    def count(self, measurement: str, gateway: str | None = None) -> int:
        """Number of points stored in *measurement* (optionally of one gateway)."""

    @abstractmethod
    def points(
        self,
        measurement: str,
        gateway: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Point]:
        """The points of *measurement* (optionally of one gateway) with start_ms <= time <
        end_ms (either bound optional), oldest first, ties in series order. Without bounds:
        all of them (tests and small exports); callers with a window bound it."""

    @abstractmethod
    def newest(
        self, measurement: str, gateway: str | None = None, before_ms: int | None = None
    ) -> list[Point]:
        """The newest point of each series of *measurement* (optionally of one gateway,
        optionally only among points with time < before_ms), ordered by tag set."""

    def newest_of(self, measurements: Sequence[str]) -> dict[str, list[Point]]:
        """:meth:`newest` of several measurements at once (all gateways): measurement ->
        its points. A backend answers it with a bounded number of queries whatever the number
        of series (InfluxDB: two requests); this default asks :meth:`newest` per
        measurement, cheap on an embedded store."""
        return {m: self.newest(m) for m in dict.fromkeys(measurements)}

    @abstractmethod
    def series(self, query: SeriesQuery, after_ms: int | None, limit: int) -> list[SeriesRow]:
        """One page of a series, oldest first, for keyset paging (the cost of a page does
        not depend on how many came before it):

        - raw (``window`` None): the values of *field* in the points with start <= time <
          end and time > *after_ms*; the first *limit* of them by (time, series), plus any
          further ones at the time of the last (a page never splits a time, so the next page
          is simply ``after_ms`` = that time);
        - aggregated: per window of the zone, *agg* over the values of all matching series
          with start <= time < end, windows without values left out; the first *limit*
          windows whose start is > *after_ms* (the first window may begin before start and
          holds only the values from start on).

        Raises SeriesRefused for an aggregate other than count of a non-numeric field."""

    @abstractmethod
    def check_read(self) -> None:
        """Return if this store's user may read now; else raise StoreNotReady naming what is
        missing (database, login, READ privilege), or StoreUnavailable."""

    @abstractmethod
    def ping(self) -> bool:
        """True if the store answers."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class Store(StoreReader, StoreWriter):
    """Both interfaces, and :meth:`ensure`: what set-up, tests and the embedded demo use."""

    @abstractmethod
    def ensure(self) -> None:
        """Create the database (InfluxDB: ``CREATE DATABASE``, an admin's statement; the rest
        of the set-up is ``store.setup``) or the file and tables (SQLite). Idempotent.
        Services do not call it on InfluxDB: they run with users that may not."""
