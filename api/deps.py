"""Named dependencies shared by the routers.

The app keeps what it was built with on ``app.state`` (no module-level singletons); routes
ask for it by name: ``store: StoreDep``, ``broker_check: BrokerCheckDep``, ``registry:
RegistryDep`` (the registry's sites; a route asking for it answers 503 when the API has no
registry).

Access control (api/auth.py) plugs in here: :data:`READ_ACCESS` needs a valid key unless the
route's group (the first part of its path) is public (``--public-read``). ``app.py`` includes
every data router with ``dependencies=READ_ACCESS`` (and ``/health`` with :data:`PUBLIC`), so
the routes themselves do not change. A route that needs a role asks for
``api.auth.requires("operator")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Request

from api.auth import read_access
from registry.read import RegistryReader
from store import StoreReader
from store.sqlite import SQLiteStore

BrokerCheck = Callable[[], bool]
Backend = Literal["influxdb", "sqlite"]

#: Dependencies every data route runs first: a key, or a public group (module docstring).
READ_ACCESS: list[Any] = [read_access]
#: Dependencies of routes that stay open to everyone (load balancers probe /health).
PUBLIC: list[Any] = []


def single_query_values(request: Request) -> None:
    """Every route runs this first: a query parameter given twice is refused (422
    ``invalid_request`` naming it). The API has no list parameters, and taking the last of
    several values would answer a request nobody made."""
    from collections import Counter

    from fastapi.exceptions import RequestValidationError

    seen = Counter(key for key, _ in request.query_params.multi_items())
    twice = sorted(key for key, n in seen.items() if n > 1)
    if twice:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", key),
                    "msg": f"given {seen[key]} times; give it once",
                    "type": "value_error",
                    "input": request.query_params.getlist(key),
                }
                for key in twice
            ]
        )


def get_store(request: Request) -> StoreReader:
    return request.app.state.store


def get_broker_check(request: Request) -> BrokerCheck | None:
    return request.app.state.broker_check


def get_registry(request: Request) -> RegistryReader:
    """The registry's read interface; 503 (api.errors.NoRegistry) when the API has none."""
    registry = request.app.state.registry
    if registry is None:
        from api.errors import NoRegistry

        raise NoRegistry()
    return registry


def backend_name(store: StoreReader) -> Backend:
    return "sqlite" if isinstance(store, SQLiteStore) else "influxdb"


StoreDep = Annotated[StoreReader, Depends(get_store)]
BrokerCheckDep = Annotated[BrokerCheck | None, Depends(get_broker_check)]
RegistryDep = Annotated[RegistryReader, Depends(get_registry)]
