"""The store interface shared by the InfluxDB (production) and SQLite (embedded) backends.

Both backends pass the same contract test suite (tests/store/test_contract.py). Points are
identified by (measurement, tag set, time): writing the same point twice stores it once, the
later field values winning, exactly as InfluxDB does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from telemetry.mapping import Point


class StoreError(RuntimeError):
    """Base of store failures."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or did not answer in time; the write may be retried."""


class StoreRejected(StoreError):
    """The store refused the data itself (e.g. a field type conflict); retrying will not help."""


class StoreAuthFailed(StoreRejected):
    """The store refused the credentials (HTTP 401/403). A configuration problem: the data
    itself is fine, so a writer retries later rather than dropping it."""


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
