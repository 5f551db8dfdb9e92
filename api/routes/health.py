"""``GET /health``: is the store reachable and readable, and the MQTT broker (when one is
configured) reachable?"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from api.deps import BrokerCheckDep, StoreDep, backend_name
from api.models import BrokerHealth, Health, StoreHealth
from store import StoreError, StoreNotReady
from store.privileges import public_reason

log = logging.getLogger("api")

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Health of the API and what it depends on",
    responses={503: {"model": Health, "description": "the store is unreachable"}},
)
def health(store: StoreDep, broker_check: BrokerCheckDep, response: Response) -> Health:
    """200 while the store answers (``status`` is ``"degraded"`` if the broker does not, or
    if the API may not read the store: ``store.problem`` says why, the API log says which user
    and database); 503 when the store does not answer, so that load balancers take this
    instance out."""
    store_ok = store.ping()
    problem = None
    if store_ok:
        try:
            store.check_read()
        except StoreNotReady as exc:
            problem = public_reason(exc)
        except StoreError:
            problem = "the store refused the check; see the API log"
            log.exception("store read check failed")
    broker_ok: bool | None = None
    if broker_check is not None:
        try:
            broker_ok = bool(broker_check())
        except Exception:
            log.exception("broker check failed")
            broker_ok = False
    if not store_ok:
        response.status_code = 503
    return Health(
        status="ok" if store_ok and problem is None and broker_ok is not False else "degraded",
        store=StoreHealth(ok=store_ok, backend=backend_name(store), problem=problem),
        broker=BrokerHealth(ok=broker_ok),
    )
