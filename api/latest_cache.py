"""The latest values of the whole district kept in the API's memory (``--latest-refresh``).

InfluxDB spends 50-90 ms of CPU on each "latest values of everything" question
(docs/scaling.md, section 9), so no query shape answers it in under 50 ms. :class:`LatestCache`
wraps the store's read interface: a background thread reads :meth:`StoreReader.latest`,
:meth:`StoreReader.gateways` and :meth:`StoreReader.newest_of` (of every measurement asked for
so far, by it or by :meth:`StoreReader.newest` without ``before_ms``) every *refresh* seconds
into a snapshot, and requests answer from it. Every other store method goes to the store.

- Freshness: an answer is at most *refresh* seconds (plus one read's duration) older than the
  store. The snapshot's age is in the ``X-Latest-Age`` header (seconds) of the routes that use
  it and in ``/metrics`` (``jagajalan_api_latest_age_seconds``).
- Until the first read succeeded, calls read through to the store (as without the cache).
- A failed refresh keeps the last snapshot, counts ``jagajalan_api_latest_refresh_failures``
  and logs a warning (the store's error text, which never holds a secret): answers stay 200,
  their age grows.
- :meth:`memo` keeps a route's serialised answer per key for the snapshot it was built from,
  and the refresher builds the answers asked of a snapshot for the next one before serving it,
  so the 1.27 MB of ``/sites/latest`` is built once per refresh and never while a request
  waits (an answer nobody asked for during a refresh interval is dropped).
- While the refresher runs, the interpreter's GIL switch interval is :data:`SWITCH_INTERVAL`
  instead of 5 ms: the refresh is a few hundred ms of Python (parsing InfluxDB's answers,
  building the answers), and a request that hands the GIL over at each socket read and write
  would otherwise wait up to 5 ms every time to get it back (docs/scaling.md, section 9).

``isinstance(cache, SQLiteStore)`` sees through the cache (as through
:class:`store.metered.MeteredStore`), so the backend's name stays right.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge

from store import GatewaySeen, LatestValue
from telemetry.mapping import Point

log = logging.getLogger("api.latest")

#: The header that carries the snapshot's age in seconds (absent: read from the store now).
AGE_HEADER = "X-Latest-Age"
#: Most memoised answers kept per snapshot (keys are query parameters: bounded anyway).
_MEMO_LIMIT = 256
#: The GIL switch interval (seconds) while the refresher thread runs (CPython's default: 5 ms).
SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True)
class Snapshot:
    read_at: float  # time.monotonic() when the read began: the values are at least this fresh
    latest: list[LatestValue]
    gateways: list[GatewaySeen]
    newest: dict[str, list[Point]]
    memo: dict[Any, bytes] = field(default_factory=dict)
    builders: dict[Any, Callable[[], bytes]] = field(default_factory=dict)
    asked: set[Any] = field(default_factory=set)  # keys requests asked of this snapshot


class LatestCache:
    def __init__(
        self, store: Any, refresh: float, registry: CollectorRegistry | None = None
    ) -> None:
        self.inner = store
        self.refresh = refresh
        self._snapshot: Snapshot | None = None
        self._tracked: dict[str, None] = {}  # measurements newest_of() keeps, in order asked
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # the last refresh failed (logged once, until one succeeds)
        self._local = threading.local()  # .snap: the snapshot the refresher builds answers of
        self._switch: float | None = None  # the switch interval before start(), restored by stop()
        r = registry or CollectorRegistry()
        self.failures = Counter(
            "jagajalan_api_latest_refresh_failures",
            "failed reads of the latest values kept in memory (the last good ones are served)",
            registry=r,
        )
        self.age = Gauge(
            "jagajalan_api_latest_age_seconds",
            "age of the latest values kept in memory (-1: none read yet)",
            registry=r,
        )
        self.age.set_function(lambda: -1.0 if (a := self.age_seconds()) is None else a)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() looks here when type() does not match
        return type(self.inner)

    def __getattr__(self, name: str) -> Any:  # every other store method: unchanged
        return getattr(self.inner, name)

    # -- the snapshot ----------------------------------------------------------------------

    def _current(self) -> Snapshot | None:
        return getattr(self._local, "snap", None) or self._snapshot

    def age_seconds(self) -> float | None:
        snap = self._snapshot
        return None if snap is None else max(0.0, time.monotonic() - snap.read_at)

    def refresh_now(self) -> bool:
        """Read everything once into a new snapshot; False (last snapshot kept) on failure."""
        started = time.monotonic()
        with self._lock:
            tracked = list(self._tracked)
        try:
            snap = Snapshot(
                read_at=started,
                latest=self.inner.latest(),
                gateways=self.inner.gateways(),
                newest=self.inner.newest_of(tracked) if tracked else {},
            )
        except Exception as exc:  # any failure: keep serving the last snapshot
            self.failures.inc()
            if not self._failing:  # once per outage; the counter counts every failure
                age = self.age_seconds()
                log.warning(
                    "latest values not refreshed, serving the last ones (age %s s) until a "
                    "read succeeds: %s",
                    "none: reading through" if age is None else f"{age:.1f}",
                    exc,
                )
            self._failing = True
            return False
        if self._failing:
            log.info("latest values refreshed again")
        self._failing = False
        self._warm(snap)
        self._snapshot = snap
        return True

    def _warm(self, snap: Snapshot) -> None:
        """Build into *snap* the answers asked of the snapshot it replaces, before it is
        served: a request never waits for the serialisation of the whole district."""
        old = self._snapshot
        if old is None:
            return
        self._local.snap = snap  # this thread's reads see the new snapshot
        try:
            for key in list(old.asked):
                build = old.builders[key]
                try:
                    snap.memo[key] = build()
                except Exception as exc:  # a request will build it (and answer the error)
                    name = key[0] if isinstance(key, tuple) else key
                    log.info("answer %r not prepared: %s", name, exc)
                    continue
                snap.builders[key] = build
        finally:
            self._local.snap = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))
            self._thread = threading.Thread(target=self._run, name="latest-cache", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.refresh_now()
            self._stop.wait(max(0.0, self.refresh - (time.monotonic() - began)))

    # -- the reader's methods, from memory --------------------------------------------------

    def latest(
        self, gateway: str | None = None, measurement: str | None = None
    ) -> list[LatestValue]:
        snap = self._current()
        if snap is None:
            return self.inner.latest(gateway=gateway, measurement=measurement)
        if gateway is None and measurement is None:
            return list(snap.latest)
        return [
            v
            for v in snap.latest
            if (gateway is None or v.gateway == gateway)
            and (measurement is None or v.measurement == measurement)
        ]

    def gateways(self) -> list[GatewaySeen]:
        snap = self._current()
        return self.inner.gateways() if snap is None else list(snap.gateways)

    def newest_of(self, measurements: Sequence[str]) -> dict[str, list[Point]]:
        wanted = list(dict.fromkeys(measurements))
        snap = self._current()
        if snap is not None and all(m in snap.newest for m in wanted):
            return {m: snap.newest[m] for m in wanted}
        with self._lock:  # kept from the next refresh on; read through this time
            self._tracked.update(dict.fromkeys(wanted))
        return self.inner.newest_of(wanted)

    def newest(
        self, measurement: str, gateway: str | None = None, before_ms: int | None = None
    ) -> list[Point]:
        if before_ms is not None:  # a point in the past: not what the snapshot holds
            return self.inner.newest(measurement, gateway, before_ms)
        points = self.newest_of([measurement])[measurement]
        return [p for p in points if gateway is None or p.tags.get("gateway") == gateway]

    def memo(self, key: Any, build: Callable[[], bytes]) -> bytes:
        """*build*'s answer, built once per snapshot and *key* (by the refresher for the next
        snapshots, as long as requests ask for it); built each time without a snapshot."""
        snap = self._snapshot
        if snap is None:
            return build()
        found = snap.memo.get(key)
        if found is None:
            found = build()
            if len(snap.memo) >= _MEMO_LIMIT:
                return found
            snap.memo[key] = found
            snap.builders[key] = build
        snap.asked.add(key)
        return found


def answer(request: Request, key: Any, build: Callable[[], bytes]) -> Response:
    """A JSON response of *build*'s bytes, memoised by the app's cache (if it has one) and
    carrying the age of the values in :data:`AGE_HEADER`."""
    cache: LatestCache | None = getattr(request.app.state, "latest", None)
    if cache is None:
        return Response(build(), media_type="application/json")
    age = cache.age_seconds()
    body = cache.memo(key, build)
    headers = {} if age is None else {AGE_HEADER: f"{age:.3f}"}
    return Response(body, media_type="application/json", headers=headers)
