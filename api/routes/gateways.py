"""``GET /gateways``: every gateway seen, with its last batch and its last status."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep
from api.errors import STORE_ERRORS
from api.models import GatewayPublic
from kernel.times import utc_iso, wib_iso

router = APIRouter(tags=["gateways"])


@router.get(
    "/gateways",
    response_model=list[GatewayPublic],
    summary="Gateways seen in batches or status messages",
    responses=STORE_ERRORS,
)
def list_gateways(store: StoreDep) -> list[GatewayPublic]:
    """Ordered by gateway id. ``last_seen`` is the send time of the newest batch; ``state``
    comes from the newest status message (``offline`` also when the broker published the
    gateway's Last Will)."""
    return [
        GatewayPublic(
            gateway=g.gateway,
            last_seen=utc_iso(g.last_seen_ms),
            last_seen_wib=wib_iso(g.last_seen_ms),
            last_seq=g.last_seq,
            state=g.state,
            state_time=utc_iso(g.state_time_ms),
            state_time_wib=wib_iso(g.state_time_ms),
        )
        for g in store.gateways()
    ]
