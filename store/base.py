"""The store interface shared by the InfluxDB (production) and SQLite (embedded) backends.

Both backends pass the same contract test suite (tests/store/test_contract.py). Points are
identified by (measurement, tag set, time): writing the same point twice stores it once, the
later field values winning, exactly as InfluxDB does.

A failed write is one of four kinds, and :func:`classify` is the one place that says which:

* ``transient`` (:class:`StoreUnavailable`): the store is down, slow, answering 5xx or
  throttling. Nothing is wrong with the data or the settings; retry, without limit.
* ``configuration`` (:class:`StoreMisconfigured`, :class:`StoreAuthFailed`): credentials
  refused, no write privilege, the database missing and not creatable, a URL that is not the
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
from dataclasses import dataclass
from enum import StrEnum

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


class Store(ABC):
    @abstractmethod
    def ensure(self) -> None:
        """Create the database/tables if missing. Idempotent."""

    @abstractmethod
    def write(self, points: Sequence[Point]) -> None:
        """Write points. Raises StoreUnavailable or StoreRejected."""

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
    def points(self, measurement: str, gateway: str | None = None) -> list[Point]:
        """All points of *measurement*, oldest first (tests and small exports)."""

    @abstractmethod
    def ping(self) -> bool:
        """True if the store answers."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
