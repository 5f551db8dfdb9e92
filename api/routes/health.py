"""``GET /health``: is the store reachable, and the MQTT broker (when one is configured)?"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from api.deps import BrokerCheckDep, StoreDep, backend_name
from api.models import BrokerHealth, Health, StoreHealth

log = logging.getLogger("api")

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Health of the API and what it depends on",
    responses={503: {"model": Health, "description": "the store is unreachable"}},
)
def health(store: StoreDep, broker_check: BrokerCheckDep, response: Response) -> Health:
    """200 while the store answers (``status`` is ``"degraded"`` if the broker does not);
    503 when the store does not, so that load balancers take this instance out."""
    store_ok = store.ping()
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
        status="ok" if store_ok and broker_ok is not False else "degraded",
        store=StoreHealth(ok=store_ok, backend=backend_name(store)),
        broker=BrokerHealth(ok=broker_ok),
    )
