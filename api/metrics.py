"""``GET /metrics``: the API's Prometheus metrics, on a registry of the app's own (no global
state; two apps in one process count apart).

Requests are counted by an ASGI middleware (:class:`RequestMetrics`) labelled with the route
*template* (``/gateways/{gateway}``, never the path asked for: ids would make a new series each)
and the status class (``2xx``, ``4xx``, ``5xx``); a mount's files count under its prefix
(``/static``) and a path no route matches under ``unmatched``.
Store calls are timed per store method through :class:`store.metered.MeteredStore`. The route
is not in the OpenAPI document (it is for the monitoring, not for integrators); docs/api.md
lists the metrics.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from kernel.metrics import DURATION_BUCKETS

UNMATCHED = "unmatched"

router = APIRouter(include_in_schema=False)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "jagajalan_api_requests",
            "HTTP requests answered, by route template and status class",
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "jagajalan_api_request_seconds",
            "time from a request's arrival to the end of its answer, by route template and"
            " status class",
            ["route", "status"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "jagajalan_api_requests_in_flight", "requests being answered now", registry=r
        )
        self.store_seconds = Histogram(
            "jagajalan_api_store_seconds",
            "time of store calls, failed ones included, by store method",
            ["method"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "jagajalan_api_store_errors",
            "failed store calls, by store method and kind (transient: the store is down or"
            " slow; configuration: not set up for the API's user; refused: anything else)",
            ["method", "kind"],
            registry=r,
        )

    def observe_store(self, method: str, seconds: float, failure: str | None) -> None:
        """The callback of :class:`store.metered.MeteredStore`."""
        self.store_seconds.labels(method).observe(seconds)
        if failure is not None:
            self.store_errors.labels(method, failure).inc()


def template(scope: dict, root: str) -> str:
    """The route the router matched (it writes it into the scope), else the prefix of the
    mount that took the request (``/static``: a mount adds it to ``root_path``)."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return path
    mounted = scope.get("root_path", "")
    return mounted[len(root) :] if mounted != root and mounted.startswith(root) else UNMATCHED


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class RequestMetrics:
    """Pure ASGI middleware (no per-request task or body copy, unlike BaseHTTPMiddleware).
    The router writes the route it matched into the request's scope, which this middleware
    shares, so the template is known once the answer is done. An exception that escapes the
    app is counted as a 500, which is what the outer error middleware answers."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()
        root = scope.get("root_path", "")

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        m = self.metrics
        m.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = 500
            raise
        finally:
            m.in_flight.dec()
            labels = (template(scope, root), status_class(status))
            m.requests.labels(*labels).inc()
            m.request_seconds.labels(*labels).observe(time.perf_counter() - start)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
