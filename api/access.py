"""Who may read what: the settings of access control and the state the API keeps for it.

Keys live in the registry (registry/keys.py: only a salted scrypt hash is stored). A key is
checked once, then remembered for :data:`CACHE_SECONDS` (by the SHA-256 of the key, never the
key itself), so an authenticated request costs a dictionary look-up; a revoked key is
refused at the latest that long after ``registry key revoke``. Rates are token buckets per
key (per role defaults) and, for requests without a key, per client address.

This module imports no web framework: ``jagajalan api run`` builds its options from it fast.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field, field_validator

from kernel.fields import SettingsGroup

CACHE_SECONDS = 30.0
ROLES = ("viewer", "operator", "admin")  # registry.models.ROLES (a test holds them equal)
#: Paths open to everyone whatever the settings: the index, health, the API's description,
#: Prometheus' counters, the overview page (no data: its script reads the data routes).
ALWAYS_PUBLIC = ("/", "/health", "/docs", "/openapi.json", "/metrics", "/peta")


class ApiAccess(SettingsGroup):
    """API keys, open data and rate limits."""

    group: ClassVar[str] = "access"

    public_read: str = Field(
        "none",
        pattern=r"^(none|all|[a-z][a-z0-9_-]*(,[a-z][a-z0-9_-]*)*)$",
        description="read endpoints open without a key (open data): none, all, or groups "
        "separated by commas (gateways, readings, conditions, series, sites, ngsi-ld, alerts: the "
        "first part of the path); /, /health, /docs, /openapi.json, /metrics and the page "
        "/peta are always open",
        json_schema_extra={"metavar": "GROUPS"},
    )
    rate_viewer: float = Field(
        120, ge=0, description="requests per minute of a viewer key (0: no limit)"
    )
    rate_operator: float = Field(
        300, ge=0, description="requests per minute of an operator key (0: no limit)"
    )
    rate_admin: float = Field(
        600, ge=0, description="requests per minute of an admin key (0: no limit)"
    )
    rate_public: float = Field(
        60, ge=0, description="requests per minute per client address without a key (0: no limit)"
    )
    rate_burst: int = Field(
        30,
        ge=1,
        le=100_000,
        description="requests a client may send at once before its rate applies",
    )

    @field_validator("public_read")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip()

    def public_groups(self) -> frozenset[str] | None:
        """None: every read group; else the named ones (empty: none)."""
        if self.public_read == "all":
            return None
        if self.public_read == "none":
            return frozenset()
        return frozenset(self.public_read.split(","))

    def limits(self) -> Limits:
        return Limits(
            per_minute={
                "viewer": self.rate_viewer,
                "operator": self.rate_operator,
                "admin": self.rate_admin,
                "public": self.rate_public,
            },
            burst=self.rate_burst,
        )


@dataclass(frozen=True)
class Limits:
    per_minute: dict[str, float] = field(
        default_factory=lambda: {"viewer": 120, "operator": 300, "admin": 600, "public": 60}
    )
    burst: int = 30


@dataclass(frozen=True)
class Caller:
    """Who sent a request with a valid key: the key's name, prefix and role (never the key)."""

    name: str
    prefix: str
    role: str


class Buckets:
    """Token buckets by name (``key:<prefix>``, ``ip:<address>``): :meth:`take` spends one
    token and answers None, or the whole seconds to wait until one is back."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, kind: str) -> int | None:
        per_second = self.limits.per_minute.get(kind, 0) / 60.0
        if per_second <= 0:
            return None
        burst = float(self.limits.burst)
        now = self.clock()
        with self._lock:
            tokens, last = self._state.get(name, (burst, now))
            tokens = min(burst, tokens + (now - last) * per_second)
            if tokens < 1.0:
                self._state[name] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / per_second))
            self._state[name] = (tokens - 1.0, now)
            if len(self._state) > 50_000:  # forget the idle ones (they would be full again)
                self._state = {k: v for k, v in self._state.items() if now - v[1] < 600}
        return None


class KeyCache:
    """Keys checked recently: SHA-256 of the key -> (the caller or None, when it expires)."""

    def __init__(self, check: Callable[[str], Caller | None], seconds: float = CACHE_SECONDS):
        self.check, self.seconds = check, seconds
        self._known: dict[str, tuple[Caller | None, float]] = {}
        self._lock = threading.Lock()

    def cached(self, presented: str) -> tuple[bool, Caller | None]:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        with self._lock:
            hit = self._known.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0]
        return False, None

    def lookup(self, presented: str) -> Caller | None:
        """Checks *presented* against the registry (slow: scrypt) and remembers the answer."""
        caller = self.check(presented)
        digest = hashlib.sha256(presented.encode()).hexdigest()
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[digest] = (caller, time.monotonic() + self.seconds)
        return caller


def registry_check(engine: Any) -> Callable[[str], Caller | None]:
    """The key check against the registry behind *engine*."""

    def check(presented: str) -> Caller | None:
        from registry import keys

        info = keys.check(engine, presented)
        return None if info is None else Caller(info.id, info.prefix, info.role)

    return check


@dataclass
class Access:
    """What ``create_app`` is given: how keys are checked (None: no key is valid), which read
    groups are public (None: all) and the rates. ``Access()`` is closed: only
    :data:`ALWAYS_PUBLIC` answers without a key."""

    check: Callable[[str], Caller | None] | None = None
    public: frozenset[str] | None = frozenset()
    limits: Limits = field(default_factory=Limits)
    engine: Any = None  # the registry's engine, for GET /keys
    cache_seconds: float = CACHE_SECONDS

    def __post_init__(self) -> None:
        self.cache = KeyCache(self.check, self.cache_seconds) if self.check else None
        self.buckets = Buckets(self.limits)

    def is_public(self, group: str) -> bool:
        return self.public is None or group in self.public


#: For tests and the local demo: every read open, no rate limit. Never the default.
def open_reads() -> Access:
    return Access(public=None, limits=Limits(per_minute={}))
