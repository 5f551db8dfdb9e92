"""``create_app(store, broker_check)``: the FastAPI application, with nothing global.

The app does not own the store: whoever built it (``api.cli`` or a test) closes it. It holds
the store's read interface only (:class:`store.StoreReader`), opened with a READ-only user.
``/`` lists what exists; OpenAPI: ``/docs`` (Swagger UI, served from the package: no CDN) and
``/openapi.json``. Every error, also an unknown path or method, is JSON of one shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import auth, errors
from api.access import Access
from api.deps import PUBLIC, READ_ACCESS, BrokerCheck, single_query_values
from api.latest_cache import LatestCache
from api.metrics import ApiMetrics, RequestMetrics
from api.metrics import router as metrics_router
from api.routes import access as access_routes
from api.routes import alerts as alerts_routes
from api.routes import (
    conditions,
    docs,
    gateways,
    health,
    index,
    ngsild,
    readings,
    releases,
    series,
    sites,
)
from api.routes import page as overview_page
from api.routes import registry as registry_routes
from kernel import __version__
from registry.read import RegistryReader
from store import StoreReader
from store.metered import MeteredStore

DESCRIPTION = """Read-only access to JagaJalan road and environment data.

Times are UTC (ISO 8601 with `Z`) in the data; every time also comes as `*_wib`
(Asia/Jakarta, +07:00) for people. Errors are JSON: `{"error": code, "message": text}`.
`GET /` lists the endpoints (a short page in Bahasa Indonesia for browsers).
"""


def create_app(
    store: StoreReader,
    broker_check: BrokerCheck | None = None,
    metrics: ApiMetrics | None = None,
    access: Access | None = None,
    registry: RegistryReader | None = None,
    map_tiles: str | None = None,
    map_attribution: str | None = None,
    latest_refresh: float | None = None,
) -> FastAPI:
    """*access*: keys, public reads and rates (api/access.py); None: closed, every data route
    needs a key (and no key is valid). *registry*: the sites (registry/read.py); None: the
    /sites routes answer 503 saying how to give one. *map_tiles*: the tile server of the
    overview page (``/peta``), an XYZ URL template, with its credit line; None: no tiles.
    *latest_refresh*: seconds between reads of the latest values kept in memory
    (api/latest_cache.py, running while the app runs); None or 0: every request reads the
    store."""
    metrics = metrics or ApiMetrics()
    metered = MeteredStore(store, metrics.observe_store)  # /metrics: per store method
    cache = LatestCache(metered, latest_refresh, metrics.registry) if latest_refresh else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if cache is not None:
            cache.start()
        try:
            yield
        finally:
            if cache is not None:
                cache.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="JagaJalan API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by api.routes.docs from the package, not from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(single_query_values)],  # ?a=1&a=2 is a 422, never "the last"
    )
    app.state.metrics = metrics
    app.state.store = cache or metered
    app.state.latest = cache
    app.state.broker_check = broker_check
    app.state.registry = registry
    app.state.map_tiles, app.state.map_attribution = map_tiles, map_attribution
    errors.install(app)
    auth.install(app, access or Access())
    app.include_router(index.router, dependencies=PUBLIC)
    docs.install(app)
    app.include_router(overview_page.router, dependencies=PUBLIC)  # /peta: holds no data
    app.include_router(health.router, dependencies=PUBLIC)
    app.include_router(gateways.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(releases.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(readings.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(conditions.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(series.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(sites.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(registry_routes.router, responses=auth.AUTH_ERRORS)  # roles per route
    app.include_router(ngsild.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(alerts_routes.router, dependencies=READ_ACCESS, responses=auth.AUTH_ERRORS)
    app.include_router(access_routes.router)
    app.include_router(metrics_router)  # GET /metrics, not in the OpenAPI document
    app.add_middleware(RequestMetrics, metrics=metrics)
    auth.check_public(app)
    return app
